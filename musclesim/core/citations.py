"""References as data: every published source a musclesim number, method or policy comes from.

The registry is ``references.toml`` beside this module (package data): one table per key with
the authors, year, title, journal, volume, pages, the DOI or the reason there is none, and what
musclesim uses the source for. Modules, drill files and result attributes name the keys they
use (e.g. ``GaitPhaseTemplate.references``, a drill's ``references``); :func:`reference` looks
one up, :func:`format_reference` renders one, and :func:`citation` (``musclesim.citation``)
prints those a result used. Add entries to the TOML file; never put a DOI only in a docstring.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .errors import InputError

#: The registry file, installed with ``musclesim.core``.
REGISTRY_FILE = "references.toml"
#: Fields every entry must give.
REQUIRED_FIELDS = ("authors", "year", "title", "journal", "used_for")
#: Optional text fields, read as "" when an entry leaves them out (``doi`` is "" exactly when
#: the entry states ``no_doi``).
_TEXT_DEFAULTS = {"volume": "", "pages": "", "doi": ""}


def _check_entry(key: str, entry: Any, path: str) -> None:
    if not isinstance(entry, dict):
        raise InputError(f"{entry!r}", path=path, field=key, expected="a table")
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", path=path, field=key)
    if isinstance(entry["year"], bool) or not isinstance(entry["year"], int):
        raise InputError(f"{entry['year']!r}", path=path, field=f"{key}.year", expected="a year")
    if bool(entry.get("doi")) == bool(entry.get("no_doi")):
        raise InputError(
            "needs exactly one of doi and no_doi",
            path=path,
            field=key,
            expected="the DOI, or the reason the source has none",
        )
    used = entry["used_for"]
    if not isinstance(used, list) or not used or not all(isinstance(u, str) and u for u in used):
        raise InputError(f"{used!r}", path=path, field=f"{key}.used_for", expected="a list of uses")


def parse_references(text: str, *, source: str = REGISTRY_FILE) -> Mapping[str, Mapping[str, Any]]:
    """A registry in the layout of ``references.toml``: key -> read-only entry, with volume,
    pages and doi read as "" where the entry leaves them out.

    Raises InputError naming ``source`` (and the entry) when the text is not TOML, declares a
    key twice, or an entry lacks a required field, has a year that is not an integer, gives
    both or neither of ``doi`` and ``no_doi``, or has no ``used_for`` list.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path=source) from None
    for key, entry in data.items():
        _check_entry(key, entry, source)
    return MappingProxyType(
        {
            key: MappingProxyType({**_TEXT_DEFAULTS, **entry, "used_for": tuple(entry["used_for"])})
            for key, entry in data.items()
        }
    )


@functools.cache
def load_references() -> Mapping[str, Mapping[str, Any]]:
    """The shipped registry (:data:`REGISTRY_FILE`), read and checked once."""
    resource = importlib.resources.files(__package__).joinpath(REGISTRY_FILE)
    return parse_references(resource.read_text(encoding="utf-8"), source=str(resource))


#: Every reference, by key (read-only; from :data:`REGISTRY_FILE`).
REFERENCES: Mapping[str, Mapping[str, Any]] = load_references()


def reference(key: str) -> Mapping[str, Any]:
    """The reference entry for ``key``; InputError naming the known keys when absent."""
    try:
        return REFERENCES[key]
    except KeyError:
        raise InputError(
            f"unknown reference {key!r}", field="reference", expected=", ".join(sorted(REFERENCES))
        ) from None


def references_for(*keys: str) -> Mapping[str, Mapping[str, Any]]:
    """The registry entries of ``keys``, in that order (a module's own references); InputError
    for an unknown key, so a module naming a missing reference fails on import."""
    return MappingProxyType({key: reference(key) for key in keys})


def format_reference(key: str) -> str:
    """One reference as a line: ``Authors (year) Title. Journal volume:pages. doi:...``
    (the web address instead of the DOI where the source has none and one is given)."""
    r = reference(key)
    where = r["journal"]
    if r["volume"]:
        where += f" {r['volume']}"
    if r["pages"]:
        where += f":{r['pages']}"
    line = f"{r['authors']} ({r['year']}) {r['title']}. {where}."
    if r["doi"]:
        return f"{line} doi:{r['doi']}"
    if r.get("url"):
        return f"{line} {r['url']}"
    return line


def format_references(keys: Iterable[str]) -> str:
    """Several references, one per line, in the order given, without repeats."""
    return "\n".join(format_reference(k) for k in dict.fromkeys(keys))


#: What every musclesim muscle computation rests on (curves, activation dynamics, OpenSim).
CORE_REFERENCES = ("degroote2016", "delp2007")


def citation(*items) -> str:
    """The references behind musclesim results, formatted one per line.

    Each item may be a reference key (``"thelen2005"``), an object with a ``references``
    attribute (an excitation source, a drill), or a result Dataset whose ``references``
    attribute lists keys separated by commas. The core references (De Groote 2016 curves,
    OpenSim) always come first.

    >>> print(citation("thelen2005"))  # doctest: +ELLIPSIS
    De Groote F, ... doi:10.1249/01.mss.0000150078.79120.c8
    """
    keys: list[str] = list(CORE_REFERENCES)
    for item in items:
        if isinstance(item, str):
            keys.append(item)
        elif hasattr(item, "attrs") and "references" in getattr(item, "attrs", {}):
            keys.extend(k.strip() for k in str(item.attrs["references"]).split(",") if k.strip())
        elif hasattr(item, "references"):
            keys.extend(item.references)
        else:
            raise InputError(
                f"cannot find references in {type(item).__name__}",
                field="citation",
                expected="a key, a source, a drill or a result",
            )
    return format_references(keys)
