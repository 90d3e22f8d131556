"""The citation registry (musclesim/core/references.toml): every reference key that an output
names resolves through ``musclesim.citation``, every DOI that an output prints belongs to a
registry entry, an unknown key is a clear error, and the file declares each key and each DOI
once, each entry with a DOI or the reason it has none.

Simulation results are covered by ``test_simulate.py`` (``citation`` of a result raises on an
unknown key in its ``references`` attribute)."""

from __future__ import annotations

import collections
import datetime
import re
import tomllib
import warnings
from pathlib import Path

import pytest
import xarray as xr
from conftest import make_athlete
from test_plan_rules import ramp_limits, table as plan_table

import musclesim
from musclesim import InputError
from musclesim.core import citations
from musclesim.core.citations import REFERENCES, format_reference, parse_references
from musclesim.core.io import MODELS_DIR
from musclesim.excitation.sources import Constant, EMGEnvelope, ExcitationSource
from musclesim.excitation.static_optimization import StaticOptimization
from musclesim.excitation.templates import (
    running_template,
    sprinting_template,
    template_for_speed,
)
from musclesim.training import athlete as athlete_module, plan as plan_module, tolerance
from musclesim.training.athlete import load_athlete
from musclesim.training.plan import PlanSettings, plan_progression
from musclesim.training.tolerance import TolerancePolicy, policy_summary

REGISTRY = Path(citations.__file__).with_name(citations.REGISTRY_FILE)
EXAMPLE_ATHLETE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
TODAY = datetime.date(2026, 11, 25)

#: ``doi:`` followed by a DOI (10.<registrant>/<suffix>), as outputs print them; an HTML tag
#: ends it (a DOI has no ``<``).
_PRINTED_DOI = re.compile(r"doi:\s*(10\.\d{4,9}/[^\s<]+)", re.IGNORECASE)


def printed_dois(text: str) -> set[str]:
    """The DOIs written as ``doi:10...`` in ``text``, without the punctuation after them (a
    closing parenthesis counts as punctuation only when the DOI has no matching opening one:
    10.1016/S0966-6362(98)00009-5 keeps its own)."""
    found = set()
    for match in _PRINTED_DOI.finditer(text):
        doi = match.group(1)
        while doi[-1] in ".,;:" or (doi[-1] == ")" and doi.count(")") > doi.count("(")):
            doi = doi[:-1]
        found.add(doi)
    return found


def registered_keys_of(dois: set[str], where: str) -> set[str]:
    """The registry key of each DOI; fails naming the DOIs that no entry has."""
    by_doi = {entry["doi"].lower(): key for key, entry in REFERENCES.items() if entry["doi"]}
    unknown = sorted(d for d in dois if d.lower() not in by_doi)
    assert not unknown, f"{where} prints DOIs that are not in {REGISTRY.name}: {unknown}"
    return {by_doi[d.lower()] for d in dois}


def keys_in_attrs(attrs) -> set[str]:
    """Keys of a ``references`` attribute (comma separated, as ``citation`` reads it)."""
    return {k.strip() for k in str(attrs.get("references", "")).split(",") if k.strip()}


def text_of_attrs(ds: xr.Dataset) -> str:
    """Every string attribute of a result and of its variables, one per line."""
    values = list(ds.attrs.values())
    for var in ds.variables.values():
        values += list(var.attrs.values())
    return "\n".join(v for v in values if isinstance(v, str))


def assert_resolve(keys, where: str) -> None:
    """Each key prints through ``musclesim.citation`` as its registry line."""
    for key in sorted(keys):
        lines = musclesim.citation(key).splitlines()
        assert format_reference(key) in lines, f"{where}: {key}"


# ----------------------------------------------------------------------------------------------
# Keys named by the shipped files and the library's modules
# ----------------------------------------------------------------------------------------------


def test_drill_files_name_only_registered_references():
    files = sorted((MODELS_DIR / "drills").glob("*.toml"))
    assert files
    keys = set()
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        keys.update(data.get("references", []))
        keys.update(source["reference"] for source in data.get("sources", []))
    assert keys
    assert_resolve(keys, "models/drills")


def test_excitation_sources_name_only_registered_references():
    sources: list = [
        Constant(0.5),
        running_template(),
        sprinting_template(),
        template_for_speed(6.0, max_speed=9.5),
    ]
    library = musclesim.load_drills()
    sources += [musclesim.drill_excitation(d, d.intensity.default) for d in library.values()]
    keys = {k for source in sources for k in source.references}
    # sources that name their references on the class (read from files at run time)
    for cls in (EMGEnvelope, StaticOptimization):
        assert issubclass(cls, ExcitationSource) and cls.references
        keys.update(cls.references)
    assert keys
    assert_resolve(keys, "excitation sources")


def test_derived_templates_name_only_registered_references():
    keys = set()
    for path in sorted((MODELS_DIR / "templates").glob("*.nc")):
        with xr.open_dataset(path) as ds:
            keys |= keys_in_attrs(ds.attrs)
    assert keys
    assert_resolve(keys, "models/templates")


@pytest.mark.parametrize("module", [athlete_module, tolerance, plan_module])
def test_module_references_are_the_registry_entries(module):
    assert module.REFERENCES
    for key, entry in module.REFERENCES.items():
        assert entry is REFERENCES[key], key  # looked up, not a copy that could drift
    assert_resolve(module.REFERENCES, module.__name__)


def test_core_references_resolve():
    text = musclesim.citation()
    assert text.splitlines() == [format_reference(k) for k in citations.CORE_REFERENCES]


# ----------------------------------------------------------------------------------------------
# DOIs printed by the policy summary and the plan
# ----------------------------------------------------------------------------------------------


def test_policy_summary_prints_only_registered_dois():
    keys = set()
    for who in (
        make_athlete(grade="2c"),
        make_athlete(grade="4"),
        make_athlete(muscle="soleus", grade="1a"),
    ):
        text = policy_summary(TolerancePolicy.default(), who)
        keys |= registered_keys_of(printed_dois(text), "policy_summary")
    # the policy's defaults and the pain-monitoring zones are printed with their DOIs
    assert {"pollock2022", "thomee1997", "silbernagel2007", "jarvinen2005"} <= keys


def test_plan_prints_only_registered_dois():
    """A plan whose limits never clear maximal speed (its note names the binding criterion)
    prints the plan rules' sources, each registered."""
    who = make_athlete(grade="2b")
    plan = plan_progression(
        who,
        plan_table(),
        weeks=3,
        start=who.injury_date + datetime.timedelta(5),
        limits=ramp_limits(full_day=400, start_fraction=0.6),
    )
    assert any("IS NOT REACHED" in n for n in plan.notes)
    texts = {
        "Plan.summary": plan.summary(),
        "Plan.to_dataset attributes": text_of_attrs(plan.to_dataset()),
        "PlanSettings.summary": PlanSettings().summary(),
    }
    keys = set()
    for where, text in texts.items():
        keys |= registered_keys_of(printed_dois(text), where)
    assert {
        "askling2013",
        "mendiguchia2017",
        "mjolsnes2004",
        "gabbett2016",
        "bell2022",
        "malone2017",
    } <= keys


# ----------------------------------------------------------------------------------------------
# The ranking and the lookup table on the shipped example athlete
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_athlete():
    return load_athlete(EXAMPLE_ATHLETE, today=TODAY)


@pytest.mark.slow
def test_ranking_names_and_prints_only_registered_references(example_athlete):
    from musclesim.training.rank import ranking_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # poses outside the fit domain are reported, not fatal
        ds = musclesim.rank_drills(
            example_athlete,
            day=example_athlete.injury_date + datetime.timedelta(days=10),
            names=["nordic_hamstring"],
            with_max_safe=False,
        )
    assert_resolve(keys_in_attrs(ds.attrs), "rank_drills attributes")
    dois = printed_dois(text_of_attrs(ds)) | printed_dois(ranking_table(ds))
    assert dois  # the policy summary the ranking carries cites its sources
    registered_keys_of(dois, "rank_drills")


@pytest.mark.slow
def test_lookup_table_names_and_prints_only_registered_references(example_athlete, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = musclesim.build_table(
            example_athlete,
            names=["nordic_hamstring"],
            n_intensities=2,
            n_profiles=2,
            progress=False,
        )
    assert_resolve(keys_in_attrs(table.attrs), "build_table attributes")
    registered_keys_of(printed_dois(text_of_attrs(table)), "build_table attributes")
    page = musclesim.export_html(table, tmp_path / "table.html").read_text(encoding="utf-8")
    dois = printed_dois(page)
    assert dois  # the page states the policy and its sources
    registered_keys_of(dois, "export_html")


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lookup",
    [musclesim.citation, citations.reference, format_reference, citations.references_for],
    ids=["citation", "reference", "format_reference", "references_for"],
)
def test_unknown_key_is_a_clear_error_listing_the_known_keys(lookup):
    with pytest.raises(InputError, match="unknown reference 'nobody1999'") as exc:
        lookup("nobody1999")
    assert "pollock2022" in str(exc.value) and "degroote2016" in str(exc.value)


def test_citation_of_something_without_references_is_a_clear_error():
    with pytest.raises(InputError, match="cannot find references in int"):
        musclesim.citation(3)


def test_citation_reads_a_results_references_attribute():
    result = xr.Dataset(attrs={"references": "thelen2005, pollock2022,"})
    lines = musclesim.citation(result).splitlines()
    assert lines == [
        format_reference(k) for k in (*citations.CORE_REFERENCES, "thelen2005", "pollock2022")
    ]


# ----------------------------------------------------------------------------------------------
# The registry file
# ----------------------------------------------------------------------------------------------


def test_registry_declares_each_key_and_each_doi_once():
    text = REGISTRY.read_text(encoding="utf-8")
    headers = re.findall(r"^\s*\[\s*([^\]\s]+)\s*\]\s*(?:#.*)?$", text, flags=re.MULTILINE)
    twice = [k for k, n in collections.Counter(headers).items() if n > 1]
    assert not twice
    assert set(headers) == set(REFERENCES)
    dois = collections.Counter(e["doi"].lower() for e in REFERENCES.values() if e["doi"])
    assert not [d for d, n in dois.items() if n > 1]  # one source, one key


def test_every_entry_has_a_doi_or_states_why_not():
    for key, entry in REFERENCES.items():
        if entry["doi"]:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", entry["doi"]), key
            assert "no_doi" not in entry, key
            assert format_reference(key).endswith(f"doi:{entry['doi']}"), key
        else:
            assert len(entry["no_doi"].split()) >= 3, key  # a reason, in words
        assert entry["used_for"] and all(entry["used_for"]), key
        assert 1800 < entry["year"] <= TODAY.year, key
        if entry.get("verified") is False:
            assert entry.get("note"), f"{key}: say which details were not checked"


_VALID = """
[smith2020]
authors = "Smith A"
year = 2020
title = "A title"
journal = "A journal"
doi = "10.1000/xyz"
used_for = ["a use"]
"""


def test_parser_fills_optional_fields_and_keeps_every_use():
    entry = parse_references(_VALID)["smith2020"]
    assert entry["volume"] == entry["pages"] == ""
    assert entry["used_for"] == ("a use",)
    with pytest.raises(TypeError):
        entry["doi"] = "10.1000/other"  # read-only: a module cannot change the registry


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_VALID + _VALID, "not valid TOML"),  # the same key twice
        (_VALID.replace('doi = "10.1000/xyz"', ""), "exactly one of doi and no_doi"),
        (_VALID + 'no_doi = "a thesis"\n', "exactly one of doi and no_doi"),
        (_VALID.replace('used_for = ["a use"]', ""), "missing used_for"),
        (_VALID.replace('["a use"]', '"a use"'), "smith2020.used_for"),
        (_VALID.replace("year = 2020", 'year = "2020"'), "smith2020.year"),
    ],
    ids=["key twice", "no doi", "doi and no_doi", "no used_for", "used_for text", "year text"],
)
def test_parser_rejects_a_malformed_registry(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_references(text, source="bad.toml")
