"""The ``musclesim`` command line.

Each subcommand lives beside the code it drives: a module listed in ``_SUBCOMMAND_MODULES``
defines ``register_cli(subparsers)``, which adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning an exit code. JAX runs in 64-bit here (the CLI is an
edge of the program, so it may set global JAX options; the library never does).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._errors import MusclesimError

_SUBCOMMAND_MODULES = (
    "musclesim._demo",
    "musclesim._geometry_cli",
    "musclesim._arm_convention",
    "musclesim._geometry_refine",
    "musclesim._geometry_path",
    "musclesim._motion_cli",
    "musclesim._simulate_cli",
    "musclesim._plan_cli",
    "musclesim._rank_cli",
    "musclesim._tables_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musclesim",
        description="Hamstring and calf muscle strain and load in training drills.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # subcommand not built yet
            raise
        module.register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MusclesimError as exc:
        print(f"musclesim {args.command}: error: {exc}", file=sys.stderr)
        return 2
