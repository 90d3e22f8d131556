"""File-system helpers: where the shared data lives, checksums, output checks, atomic writes.

Every command that writes a file goes through two helpers here:

- :func:`check_output` (or :func:`check_output_folder`) *before* any computation: the output
  must not be one of the command's inputs (same path, symlink or hard link: compared by
  ``st_dev``/``st_ino`` and by resolved path), must not be a folder where a file is meant (or
  a file where a folder is meant), and its folder must accept a new file (probed by creating
  and removing one, which also catches read-only mounts and immutable folders, where
  ``os.access`` answers yes for root);
- :func:`atomic_path` for the write itself: a temporary file in the same folder, renamed onto
  the output only when complete. SIGINT and SIGTERM arriving during the write are held until
  the writer returns (a signal that interrupts the netCDF/HDF5 library mid-call can leave it
  holding its lock, and the process then hangs at exit), then the temporary file is removed
  and the signal acted on: no output, no temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
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


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: equal resolved paths, or (both existing) equal
    device and inode, which also catches hard links and symlinks."""
    if a.resolve() == b.resolve():
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _probe_writable(folder: Path, *, out: Path, field: str) -> None:
    """InputError unless a file can be created in ``folder`` (or, when it does not exist yet,
    in its nearest existing ancestor, where it would be created)."""
    probe_dir = folder
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise InputError(
            f"{probe_dir} is a file, so the output folder {folder} cannot be created",
            path=out,
            field=field,
            expected="an output path whose folders are folders",
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".musclesim-write-check.", dir=probe_dir)
    except OSError as exc:
        raise InputError(
            f"cannot write in {probe_dir} ({exc.strerror or exc})",
            path=out,
            field=field,
            expected="an output in a folder you can write to",
        ) from None
    os.close(fd)
    os.unlink(probe)


def _is_input(out: Path, inputs: Iterable[str | Path | None]) -> Path | None:
    for item in inputs:
        if item is None:
            continue
        candidate = Path(item)
        if candidate.exists() and _same_file(out, candidate):
            return candidate
    return None


def check_output(
    path: str | Path, *, inputs: Iterable[str | Path | None] = (), field: str = "--out"
) -> Path:
    """``path`` as an output file, checked before any computation.

    Refused (InputError naming ``field``): an output that is one of ``inputs`` (same path,
    symlink or hard link), an existing folder, a path below a file, a folder that cannot take
    a new file. ``inputs`` may hold ``None`` for options not given, and folders (an output
    inside an input folder is fine; the folder itself is not an output).
    """
    out = Path(path)
    same = _is_input(out, inputs)
    if same is not None:
        raise InputError(
            f"is the input {same} (same file); writing the result there would destroy it",
            path=out,
            field=field,
            expected="an output path that is not one of the command's inputs",
        )
    if out.is_dir():
        raise InputError(
            "is an existing folder", path=out, field=field, expected="a file name for the output"
        )
    _probe_writable(out.parent, out=out, field=field)
    return out


def check_output_folder(
    folder: str | Path,
    *,
    names: Iterable[str] = (),
    inputs: Iterable[str | Path | None] = (),
    field: str = "--out",
) -> Path:
    """``folder`` as an output folder, checked before any computation: not an existing file,
    writable (or creatable), and none of the files ``names`` it will receive is one of
    ``inputs``."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise InputError(
            "is an existing file", path=out, field=field, expected="a folder for the outputs"
        )
    inputs = list(inputs)
    for name in names:
        target = out / name
        same = _is_input(target, inputs)
        if same is not None:
            raise InputError(
                f"would replace the input {same} with the output {name}",
                path=out,
                field=field,
                expected="an output folder that does not hold the command's inputs under the "
                "output names",
            )
        if target.is_dir():
            raise InputError(
                f"{name} is an existing folder",
                path=out,
                field=field,
                expected="output names free or held by files",
            )
    _probe_writable(out, out=out, field=field)
    return out


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on the first one received.

    The handler in place before the block decides what happens then (Python's SIGINT handler
    raises KeyboardInterrupt; :func:`musclesim.cli.main` turns SIGTERM into SystemExit); a
    SIGTERM with the operating system's default action raises ``SystemExit(128 + 15)``, so
    ``finally`` blocks still run. Outside the main thread signals cannot be handled, and the
    block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum, frame):
        received.append(signum)

    previous = {s: signal.signal(s, hold) for s in _HELD_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            signum = received[0]
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                if signum == signal.SIGINT:
                    raise KeyboardInterrupt
                raise SystemExit(128 + signum)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash, an exception or an interrupt (SIGINT/SIGTERM are held while the block writes, see
    :func:`signals_held`) leaves any existing ``path`` untouched and no temporary file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is an existing folder", path=path, expected="a file name for the output")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path: Path | None = None
    try:
        with signals_held():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            tmp_path = Path(tmp)
            os.close(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
            yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path is not None and tmp_path.exists():
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


def existing_input(path: str | Path, what: str, *, field: str | None = None) -> Path:
    """``path`` as an input file: InputError "is a folder" or "file not found" otherwise."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a file", path=path, field=field, expected=what)
    if not path.is_file():
        raise InputError("file not found", path=path, field=field, expected=what)
    return path


def require_opensim(feature: str):
    """The ``opensim`` module, or :class:`OpenSimMissingError` naming ``feature`` (what needed it)
    when the ``opensim`` extra is not installed."""
    if importlib.util.find_spec("opensim") is None:
        raise OpenSimMissingError(feature)
    import opensim

    return opensim


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` resolved, or InputError ("file not found", expected ``what``)."""
    return existing_input(Path(path).resolve(), what)
