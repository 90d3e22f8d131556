"""File-system helpers: where the shared data lives, checksums, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, OpenSimMissingError

#: Environment variable that points at the third-party data folder (``../shared/data`` by default).
DATA_ENV_VAR = "MUSCLESIM_DATA"

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: The repository root when musclesim runs from a checkout (``../shared/data`` is found beside
#: it); for an installed wheel, the folder above site-packages' ``musclesim``, which holds nothing.
REPO_ROOT = _PACKAGE_ROOT.parent


def _models_dir() -> Path:
    """The shipped ``models/`` folder, as package data (``musclesim.models``, mapped onto the
    repository's top-level ``models/`` by ``pyproject.toml``), so an installed wheel finds it
    too; a source tree on ``sys.path`` without an install falls back to the checkout's."""
    spec = importlib.util.find_spec("musclesim.models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return REPO_ROOT / "models"


#: Shipped fitted models, drill definitions, templates, athletes and policies.
MODELS_DIR = _models_dir()


def shared_data_dir(*, required: bool = True) -> Path | None:
    """The folder of third-party models and kinematics (see ``../shared/data/SOURCES.md``).

    ``$MUSCLESIM_DATA`` wins; otherwise ``../shared/data`` beside the repository. Only tests,
    validation scripts and experiments call this; the library itself takes explicit paths.
    """
    env = os.environ.get(DATA_ENV_VAR)
    candidate = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if candidate.is_dir():
        return candidate
    if required:
        raise InputError(
            "the shared data folder does not exist",
            path=candidate,
            expected=f"a folder of .osim/.mot files; set ${DATA_ENV_VAR} to point at it",
        )
    return None


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or an exception leaves any existing ``path`` untouched and no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_netcdf_atomic(dataset, path: str | Path) -> Path:
    """Write an ``xarray.Dataset`` to netCDF atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp)
    return Path(path)


def require_opensim(feature: str):
    """The ``opensim`` module, or :class:`OpenSimMissingError` naming ``feature`` (what needed it)
    when the ``opensim`` extra is not installed."""
    if importlib.util.find_spec("opensim") is None:
        raise OpenSimMissingError(feature)
    import opensim

    return opensim


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` resolved, or InputError ("file not found", expected ``what``)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError("file not found", path=path, expected=what)
    return path
