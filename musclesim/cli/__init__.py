"""The ``musclesim`` command line.

One module of this package per command (or family of commands): each defines
``register_cli(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit code. The CLI is the top layer: it may import any part of
the library, and no library module imports it. JAX runs in 64-bit here (the CLI is an
edge of the program, so it may set global JAX options; the library never does).
"""

from __future__ import annotations

import argparse
import sys

import jax

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
    tables,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musclesim",
        description="Hamstring and calf muscle strain and load in training drills.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()  # a command's second run reads its compiled programs from disk
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MusclesimError as exc:
        print(f"musclesim {args.command}: error: {exc}", file=sys.stderr)
        return 2
