"""The public surface is frozen: ``musclesim.__all__`` and the help of every command and
subcommand must match ``tests/data/public_api.json``, which was written from the tree before the
package was reorganised into subpackages. A change to the public API is a decision: regenerate
the file on purpose and say why in the commit."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import musclesim
from musclesim.cli import build_parser

FROZEN = json.loads((Path(__file__).parent / "data" / "public_api.json").read_text())


def _helps(parser: argparse.ArgumentParser, path: list[str], out: dict[str, str]) -> dict:
    out[" ".join(path)] = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _helps(sub, [*path, name], out)
    return out


def test_all_is_frozen():
    assert sorted(musclesim.__all__) == FROZEN["all"]
    missing = [name for name in musclesim.__all__ if not hasattr(musclesim, name)]
    assert missing == []


@pytest.fixture(scope="module")
def helps():
    import os

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width
    try:
        return _helps(build_parser(), ["musclesim"], {})
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def test_every_command_is_frozen(helps):
    assert sorted(helps) == sorted(FROZEN["help"])


@pytest.mark.parametrize("command", sorted(FROZEN["help"]))
def test_help_is_frozen(helps, command):
    assert helps[command] == FROZEN["help"][command]
