"""The package's structure: the layering contracts of ``pyproject.toml`` hold (and the check
catches an upward import), imports sit at module top except for the optional dependencies, the
optional dependencies are not imported by ``import musclesim``, and the installed package list
names every subpackage on disk."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "musclesim"
PYPROJECT = REPO / "pyproject.toml"

#: Imported inside functions on purpose: OpenSim is an optional extra (the main job runs
#: without it), matplotlib only draws figures and costs about a second to import, ezc3d only
#: reads .c3d files and is a compiled extension not every platform has, dask only sends table
#: builds to a cluster and its import (tornado, its scheduler machinery) would slow every command.
OPTIONAL = frozenset({"opensim", "matplotlib", "ezc3d", "dask"})

#: Any other import inside a function: (module file relative to the repository, imported module)
#: -> the reason it cannot sit at module top. Empty while every such import is at module top.
ALLOWED_IN_FUNCTION: dict[tuple[str, str], str] = {}


def _lint_imports(config: Path, *, cwd: Path, pythonpath: Path | None = None):
    """Run the venv's ``lint-imports`` on ``config``; a wide terminal keeps each report line
    whole."""
    env = {"PATH": str(Path(sys.executable).parent), "COLUMNS": "250"}
    if pythonpath is not None:
        # Ahead of the editable install, so the import graph is built from this copy.
        env["PYTHONPATH"] = str(pythonpath)
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", str(config)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_layer_contracts_are_kept():
    done = _lint_imports(PYPROJECT, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("module", "line", "edge", "contract"),
    [
        (
            "core/errors.py",
            "from ..training import rank",
            "musclesim.core.errors -> musclesim.training.rank",
            "Stages",
        ),
        (
            "geometry/records.py",
            "from . import io",
            "musclesim.geometry.records -> musclesim.geometry.io",
            "Geometry",
        ),
    ],
    ids=["core-imports-training", "geometry-records-imports-io"],
)
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, edge, contract):
    """A copy of the package in which one low module imports a higher layer fails the same
    contracts (the real tree is untouched)."""
    copy = tmp_path / "musclesim"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = _lint_imports(PYPROJECT, cwd=tmp_path, pythonpath=tmp_path)
    assert done.returncode != 0, done.stdout + done.stderr
    broken = [s for s in done.stdout.splitlines() if s.startswith(contract) and "BROKEN" in s]
    assert broken, done.stdout + done.stderr
    assert f"- {edge} (l." in done.stdout, done.stdout


def _imports_in_functions(tree: ast.AST):
    """(line, imported module, is relative) for every import inside a function body."""

    def walk(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, True)
            elif in_function and isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, False
            elif in_function and isinstance(child, ast.ImportFrom):
                yield child.lineno, child.module or "", child.level > 0
            else:
                yield from walk(child, in_function)

    yield from walk(tree, False)


def test_imports_in_functions_only_for_optional_dependencies():
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for line, name, relative in _imports_in_functions(ast.parse(path.read_text())):
            if relative or name.split(".")[0] not in OPTIONAL:
                if (rel, name) not in ALLOWED_IN_FUNCTION:
                    offending.append(f"{rel}:{line} imports {'.' if relative else ''}{name}")
    assert offending == [], "move to module top (only optional dependencies stay lazy)"


def test_the_in_function_check_sees_nested_and_relative_imports():
    source = (
        "import numpy\n"
        "def f():\n    import scipy.signal\n"
        "class A:\n    def g(self):\n        if True:\n            from ..core import io\n"
        "def h():\n    import opensim\n"
    )
    found = [(line, name, rel) for line, name, rel in _imports_in_functions(ast.parse(source))]
    assert found == [(3, "scipy.signal", False), (7, "core", True), (9, "opensim", False)]


def test_import_musclesim_leaves_optional_dependencies_unimported():
    code = (
        "import sys, musclesim, musclesim.cli\n"
        f"print(sorted(m for m in {sorted(OPTIONAL)!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_setuptools_packages_are_the_subpackages_on_disk():
    listed = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts) for init in PACKAGE.rglob("__init__.py")
    }
    assert sorted(listed) == sorted(on_disk | {"musclesim.models"})
    assert len(listed) == len(set(listed))
    # A folder of modules without __init__.py would be a namespace package that the list misses.
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f) for f in folders if not (f / "__init__.py").is_file()) == []
