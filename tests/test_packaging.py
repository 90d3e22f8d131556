"""An installed wheel carries what the library loads by name: the shipped models, drills,
templates, athletes and policies (``models/`` installed as ``musclesim.models``), the citation
registry and the running EMG template, and every subpackage."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_every_subpackage_and_the_shipped_data(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("musclesim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "musclesim/models/" + p.relative_to(ROOT / "models").as_posix()
        for p in (ROOT / "models").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= names, sorted(shipped - names)
    modules = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "musclesim").rglob("*")
        if p.is_file() and p.suffix in (".py", ".toml")
    }
    assert modules <= names, sorted(modules - names)
