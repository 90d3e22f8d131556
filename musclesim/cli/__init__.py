"""The ``musclesim`` command line.

One module of this package per command (or family of commands): each defines
``register_cli(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit code. The CLI is the top layer: it may import any part of
the library, and no library module imports it. JAX runs in 64-bit here unless ``--precision
float32`` is given (the CLI is an edge of the program, so it may set global JAX options; the
library never does).

Errors a user can cause end in one line on stderr (exit status 2); a traceback only with
``musclesim --debug``. SIGTERM ends a command like Ctrl-C does, through ``finally`` blocks, so
temporary files are removed (:func:`musclesim.core.io.atomic_path`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import jax

from ..core.cpu_vectors import prefer_wide_cpu_vectors
from ..core.errors import MusclesimError
from ..core.jax_cache import enable_compilation_cache
from . import (
    demo,
    fit_arm_convention,
    fit_path,
    geometry,
    motion,
    plan,
    rank,
    refine_domain,
    simulate,
    tables,
    whatif,
)

#: Registration order is the order of ``musclesim --help``.
_COMMANDS = (
    demo,
    geometry,
    fit_arm_convention,
    refine_domain,
    fit_path,
    motion,
    simulate,
    plan,
    rank,
    whatif,
    tables,
)

#: What ``--precision`` accepts: JAX's 64-bit mode on or off for the whole command.
PRECISIONS = ("float64", "float32")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musclesim",
        description="Hamstring and calf muscle strain and load in training drills.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (bug reports)"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float64",
        help="floating-point precision of every computation (default float64; float32 is what "
        "GPUs run fastest; its difference from float64 is measured by "
        "`python -m experiments.float32_simulate`)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.register_cli(subparsers)
    return parser


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # before the first array is made: JAX fixes an array's precision when it creates it
    jax.config.update("jax_enable_x64", args.precision == "float64")
    enable_compilation_cache()  # a command's second run reads its compiled programs from disk
    prefer_wide_cpu_vectors()  # before the first computation: XLA reads its flags only then
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main_thread else None
    prefix = f"musclesim {args.command}"
    try:
        return int(args.func(args) or 0)
    except MusclesimError as exc:
        if args.debug:
            raise
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused a read or write the checks could not foresee
        if args.debug:
            raise
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prefix}: interrupted; files being written were removed", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        first = (str(exc).splitlines() or [""])[0]
        print(
            f"{prefix}: internal error: {type(exc).__name__}: {first} (run `musclesim --debug "
            f"{args.command} ...` for the traceback, and report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
