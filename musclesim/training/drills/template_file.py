"""Reading a derived template file (``models/templates/*.nc``, written by
:mod:`.derive`) into its template class, once per file version."""

from __future__ import annotations

import functools
from pathlib import Path

import xarray as xr

from ...core.errors import InputError
from ...core.io import MODELS_DIR

#: Folder of the shipped derived templates.
TEMPLATES_DIR = MODELS_DIR / "templates"


@functools.lru_cache(maxsize=8)
def _load_template_cached(template_class, path: str, mtime: float):
    """``template_class.from_dataset`` of a file, cached per class, path and modification time."""
    with xr.open_dataset(path) as ds:
        return template_class.from_dataset(ds.load())


def _open_template(path: Path, kind: str, template_class):
    """A derived template file read (once) into ``template_class``, or InputError naming the
    file and the command that derives it."""
    if not path.is_file():
        raise InputError(
            f"{kind} template not found",
            path=path,
            expected=f"run `python -m experiments.derive_{kind}_template`",
        )
    try:
        return _load_template_cached(template_class, str(path.resolve()), path.stat().st_mtime)
    except (KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"not a {kind} template ({exc})",
            path=path,
            expected=f"a file written by derive_{kind}_template",
        ) from None
