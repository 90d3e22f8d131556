"""A persistent JAX compilation cache in the user's cache folder.

Every ``musclesim`` command compiles the same XLA programs (the fibre solver, the geometry
surrogate, the metrics) for the same shapes. With the cache on, a program compiled by one run
is read from disk by the next, so only the first run of a command pays for compilation. The
cache key holds the program, the jax/jaxlib versions and the compiler flags: a changed function
or an upgraded JAX compiles anew, never reads a stale program.

:func:`enable_compilation_cache` turns it on; the command line calls it once at start, and
library users call it themselves (the library never changes JAX's settings on its own). The
folder is, in this order: the ``path`` argument; ``$MUSCLESIM_JAX_CACHE``; the folder already
set in ``jax.config`` (``jax_compilation_cache_dir``, e.g. by a test session); the user cache
folder of the platform (``platformdirs.user_cache_dir``: ``$XDG_CACHE_HOME/musclesim/jax``,
by default ``~/.cache/musclesim/jax`` on Linux). ``MUSCLESIM_JAX_CACHE=off`` (or ``0``,
``no``, ``false``, ``none``) turns it off.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jax
import platformdirs

#: Environment variable naming the cache folder, or one of ``OFF_VALUES`` to turn it off.
ENV_VAR = "MUSCLESIM_JAX_CACHE"
OFF_VALUES = ("off", "0", "no", "false", "none")
#: Every program is written, however quick its compilation: a command compiles hundreds of
#: programs that each take well under JAX's default threshold of 1 s, and their sum is what the
#: cache saves (the same choice as tests/conftest.py, where a threshold of 0.1 s kept 40 % of
#: the compilation time that a threshold of 0 saves: 82 s against 50 s on 2 cores).
MIN_COMPILE_TIME_S = 0.0
#: Size cap of the folder (bytes), least recently used entries evicted first, so it cannot
#: grow without bound across JAX upgrades. The example athlete's ranking writes 2.6 MB
#: (experiments/benchmark_rank.py prints the size) and the 21 x 10 x 50 table build 1.9 MB, so
#: 1 GiB holds the programs of hundreds of models and shapes.
#: JAX's eviction needs the ``filelock`` package (a dependency of musclesim).
MAX_SIZE_BYTES = 1 << 30


def default_cache_dir() -> Path:
    """The platform's user cache folder for musclesim's compiled programs."""
    return Path(platformdirs.user_cache_dir("musclesim", appauthor=False)) / "jax"


def compilation_cache_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The folder :func:`enable_compilation_cache` would use, or None when the cache is off
    (see the module docstring for the order of precedence)."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip().lower() in OFF_VALUES:
        return None
    if env:
        return Path(env).expanduser()
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    return default_cache_dir()


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache; returns its folder, or None when it is off.

    Call it before the first JAX computation: JAX reads the cache settings at its first
    compilation. A folder that cannot be created leaves the cache off with a warning (the
    computation itself does not need it). A folder already set in ``jax.config`` (and no
    ``path`` or ``$MUSCLESIM_JAX_CACHE``) is kept with the settings it was given.

    Example:
        >>> import musclesim
        >>> folder = musclesim.enable_compilation_cache()  # doctest: +SKIP
    """
    folder = compilation_cache_dir(path)
    if folder is None:
        return None
    if path is None and not os.environ.get(ENV_VAR) and jax.config.jax_compilation_cache_dir:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(
            f"JAX compilation cache off: cannot create {folder} ({exc}); set {ENV_VAR} to a "
            "writable folder, or to 'off'",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_compilation_cache_max_size", MAX_SIZE_BYTES)
    return folder
