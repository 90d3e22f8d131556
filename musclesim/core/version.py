"""The installed version, read from the package metadata (``pyproject.toml``), in one place."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("musclesim")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"
