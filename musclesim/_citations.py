"""References as data: every published source a musclesim number or method comes from.

Each entry is a plain dict (authors, year, title, journal, volume, pages, doi). Modules name
the keys they use (e.g. ``GaitPhaseTemplate.references``); ``format_reference`` renders one,
and ``musclesim.citation(...)`` (built elsewhere) prints those a result used. Add entries here;
never put a DOI only in a docstring.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._errors import InputError

REFERENCES: dict[str, dict[str, str]] = {
    "delp2007": {
        "authors": "Delp SL, Anderson FC, Arnold AS, Loan P, Habib A, John CT, Guendelman E, "
        "Thelen DG",
        "year": "2007",
        "title": "OpenSim: open-source software to create and analyze dynamic simulations of "
        "movement",
        "journal": "IEEE Transactions on Biomedical Engineering",
        "volume": "54(11)",
        "pages": "1940-1950",
        "doi": "10.1109/TBME.2007.901024",
    },
    "rajagopal2016": {
        "authors": "Rajagopal A, Dembia CL, DeMers MS, Delp DD, Hicks JL, Delp SL",
        "year": "2016",
        "title": "Full-body musculoskeletal model for muscle-driven simulation of human gait",
        "journal": "IEEE Transactions on Biomedical Engineering",
        "volume": "63(10)",
        "pages": "2068-2079",
        "doi": "10.1109/TBME.2016.2586891",
    },
    "zeni2008": {
        "authors": "Zeni JA, Richards JG, Higginson JS",
        "year": "2008",
        "title": "Two simple methods for determining gait events during treadmill and overground "
        "walking using kinematic data",
        "journal": "Gait & Posture",
        "volume": "27(4)",
        "pages": "710-714",
        "doi": "10.1016/j.gaitpost.2007.07.007",
    },
    "oconnor2007": {
        "authors": "O'Connor CM, Thorpe SK, O'Malley MJ, Vaughan CL",
        "year": "2007",
        "title": "Automatic detection of gait events using kinematic data",
        "journal": "Gait & Posture",
        "volume": "25(3)",
        "pages": "469-474",
        "doi": "10.1016/j.gaitpost.2006.05.016",
    },
    "fellin2010": {
        "authors": "Fellin RE, Rose WC, Royer TD, Davis IS",
        "year": "2010",
        "title": "Comparison of methods for kinematic identification of footstrike and toe-off "
        "during overground and treadmill running",
        "journal": "Journal of Science and Medicine in Sport",
        "volume": "13(6)",
        "pages": "646-650",
        "doi": "10.1016/j.jsams.2010.03.006",
    },
    "handsaker2016": {
        "authors": "Handsaker JC, Forrester SE, Folland JP, Black MI, Allen SJ",
        "year": "2016",
        "title": "A kinematic algorithm to identify gait events during running at different "
        "speeds and with different footstrike types",
        "journal": "Journal of Biomechanics",
        "volume": "49(16)",
        "pages": "4128-4133",
        "doi": "10.1016/j.jbiomech.2016.10.013",
    },
    "kyrolainen2005": {
        "authors": "Kyröläinen H, Avela J, Komi PV",
        "year": "2005",
        "title": "Changes in muscle activity with increasing running speed",
        "journal": "Journal of Sports Sciences",
        "volume": "23(10)",
        "pages": "1101-1109",
        "doi": "10.1080/02640410400021575",
    },
    "higashihara2010": {
        "authors": "Higashihara A, Ono T, Kubota J, Okuwaki T, Fukubayashi T",
        "year": "2010",
        "title": "Functional differences in the activity of the hamstring muscles with increasing "
        "running speed",
        "journal": "Journal of Sports Sciences",
        "volume": "28(10)",
        "pages": "1085-1092",
        "doi": "10.1080/02640414.2010.494308",
    },
    "howard2018": {
        "authors": "Howard RM, Conway R, Harrison AJ",
        "year": "2018",
        "title": "Muscle activity in sprinting: a review",
        "journal": "Sports Biomechanics",
        "volume": "17(1)",
        "pages": "1-17",
        "doi": "10.1080/14763141.2016.1252790",
    },
    "cappellini2006": {
        "authors": "Cappellini G, Ivanenko YP, Poppele RE, Lacquaniti F",
        "year": "2006",
        "title": "Motor patterns in human walking and running",
        "journal": "Journal of Neurophysiology",
        "volume": "95(6)",
        "pages": "3426-3437",
        "doi": "10.1152/jn.00081.2006",
    },
    "deluca2010": {
        "authors": "De Luca CJ, Gilmore LD, Kuznetsov M, Roy SH",
        "year": "2010",
        "title": "Filtering the surface EMG signal: movement artifact and baseline noise "
        "contamination",
        "journal": "Journal of Biomechanics",
        "volume": "43(8)",
        "pages": "1573-1579",
        "doi": "10.1016/j.jbiomech.2010.01.027",
    },
    "winter2009": {
        "authors": "Winter DA",
        "year": "2009",
        "title": "Biomechanics and Motor Control of Human Movement, 4th edition",
        "journal": "John Wiley & Sons (book)",
        "volume": "",
        "pages": "",
        "doi": "10.1002/9780470549148",
    },
}


def reference(key: str) -> dict[str, str]:
    """The reference entry for ``key``; InputError naming the known keys when absent."""
    try:
        return REFERENCES[key]
    except KeyError:
        raise InputError(
            f"unknown reference {key!r}", field="reference", expected=", ".join(sorted(REFERENCES))
        ) from None


def format_reference(key: str) -> str:
    """One reference as a line: ``Authors (year) Title. Journal volume:pages. doi:...``."""
    r = reference(key)
    where = r["journal"]
    if r["volume"]:
        where += f" {r['volume']}"
    if r["pages"]:
        where += f":{r['pages']}"
    return f"{r['authors']} ({r['year']}) {r['title']}. {where}. doi:{r['doi']}"


def format_references(keys: Iterable[str]) -> str:
    """Several references, one per line, in the order given, without repeats."""
    return "\n".join(format_reference(k) for k in dict.fromkeys(keys))
