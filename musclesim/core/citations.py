"""References as data: every published source a musclesim number or method comes from.

Each entry is a plain dict (authors, year, title, journal, volume, pages, doi). Modules name
the keys they use (e.g. ``GaitPhaseTemplate.references``); ``format_reference`` renders one,
and ``musclesim.citation(...)`` (built elsewhere) prints those a result used. Add entries here;
never put a DOI only in a docstring.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InputError

REFERENCES: dict[str, dict[str, str]] = {
    "degroote2016": {
        "authors": "De Groote F, Kinney AL, Rao AV, Fregly BJ",
        "year": "2016",
        "title": "Evaluation of direct collocation optimal control problem formulations for "
        "solving the muscle redundancy problem",
        "journal": "Annals of Biomedical Engineering",
        "volume": "44(10)",
        "pages": "2922-2936",
        "doi": "10.1007/s10439-016-1591-9",
    },
    "thelen2005": {
        "authors": "Thelen DG, Chumanov ES, Hoerth DM, Best TM, Swanson SC, Li L, Young M, "
        "Heiderscheit BC",
        "year": "2005",
        "title": "Hamstring muscle kinematics during treadmill sprinting",
        "journal": "Medicine & Science in Sports & Exercise",
        "volume": "37(1)",
        "pages": "108-114",
        "doi": "10.1249/01.mss.0000150078.79120.c8",
    },
    "schache2012": {
        "authors": "Schache AG, Dorn TW, Blanch PD, Brown NAT, Pandy MG",
        "year": "2012",
        "title": "Mechanics of the human hamstring muscles during sprinting",
        "journal": "Medicine & Science in Sports & Exercise",
        "volume": "44(4)",
        "pages": "647-658",
        "doi": "10.1249/MSS.0b013e31823a1c6c",
    },
    "chumanov2011": {
        "authors": "Chumanov ES, Heiderscheit BC, Thelen DG",
        "year": "2011",
        "title": "Hamstring musculotendon dynamics during stance and swing phases of "
        "high-speed running",
        "journal": "Medicine & Science in Sports & Exercise",
        "volume": "43(3)",
        "pages": "525-532",
        "doi": "10.1249/MSS.0b013e3181f23fe8",
    },
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
    # --- drill library (musclesim/_drills.py, models/drills/*.toml). "verified": False marks
    # an entry whose DOI, volume or pages were not checked against the publisher's page.
    "dorn2012": {
        "authors": "Dorn TW, Schache AG, Pandy MG",
        "year": "2012",
        "title": "Muscular strategy shift in human running: dependence of running speed on hip "
        "and ankle muscle performance",
        "journal": "Journal of Experimental Biology",
        "volume": "215(11)",
        "pages": "1944-1956",
        "doi": "10.1242/jeb.064527",
    },
    "bourne2017": {
        "authors": "Bourne MN, Williams MD, Opar DA, Al Najjar A, Kerr GK, Shield AJ",
        "year": "2017",
        "title": "Impact of exercise selection on hamstring muscle activation",
        "journal": "British Journal of Sports Medicine",
        "volume": "51(13)",
        "pages": "1021-1028",
        "doi": "10.1136/bjsports-2015-095739",
        "verified": False,  # DOI and title checked; volume and pages not
    },
    "mcallister2014": {
        "authors": "McAllister MJ, Hammond KG, Schilling BK, Ferreria LC, Reed JP, Weiss LW",
        "year": "2014",
        "title": "Muscle activation during various hamstring exercises",
        "journal": "Journal of Strength and Conditioning Research",
        "volume": "28(6)",
        "pages": "1573-1580",
        "doi": "10.1519/JSC.0000000000000302",
        "verified": False,  # title, volume and pages checked; DOI not
    },
    "ebben2009": {
        "authors": "Ebben WP",
        "year": "2009",
        "title": "Hamstring activation during lower body resistance training exercises",
        "journal": "International Journal of Sports Physiology and Performance",
        "volume": "4(1)",
        "pages": "84-96",
        "doi": "10.1123/ijspp.4.1.84",
    },
    "tsaklis2015": {
        "authors": "Tsaklis P, Malliaropoulos N, Mendiguchia J, Korakakis V, Tsapralis K, Pyne D, "
        "Malliaras P",
        "year": "2015",
        "title": "Muscle and intensity based hamstring exercise classification in elite female "
        "track and field athletes: implications for exercise selection during rehabilitation",
        "journal": "Open Access Journal of Sports Medicine",
        "volume": "6",
        "pages": "209-217",
        "doi": "10.2147/OAJSM.S79189",
    },
    "vandentillaar2017": {
        "authors": "van den Tillaar R, Solheim JAB, Bencke J",
        "year": "2017",
        "title": "Comparison of hamstring muscle activation during high-speed running and "
        "various hamstring strengthening exercises",
        "journal": "International Journal of Sports Physical Therapy",
        "volume": "12(5)",
        "pages": "718-727",
        "doi": "",
        "verified": False,  # abstract read (PMC5685404); authors, volume, pages not checked
    },
    "sarabon2019": {
        "authors": "Šarabon N, Marušič J, Marković G, Kozinc Ž",
        "year": "2019",
        "title": "Kinematic and electromyographic analysis of variations in Nordic hamstring "
        "exercise",
        "journal": "PLoS ONE",
        "volume": "14(10)",
        "pages": "e0223437",
        "doi": "10.1371/journal.pone.0223437",
    },
    "hebertlosier2012": {
        "authors": "Hébert-Losier K, Schneiders AG, García JA, Sullivan SJ, Simoneau GG",
        "year": "2012",
        "title": "Influence of knee flexion angle and age on triceps surae muscle activity during "
        "heel raises",
        "journal": "Journal of Strength and Conditioning Research",
        "volume": "26(11)",
        "pages": "3124-3133",
        "doi": "10.1519/JSC.0b013e31824435cf",
    },
    "hobara2011": {
        "authors": "Hobara H, Inoue K, Omuro K, Muraoka T, Kanosue K",
        "year": "2011",
        "title": "Determinant of leg stiffness during hopping is frequency-dependent",
        "journal": "European Journal of Applied Physiology",
        "volume": "111(9)",
        "pages": "2195-2201",
        "doi": "10.1007/s00421-011-1853-8",
        "verified": False,  # title, volume and pages checked; DOI not
    },
    "bobbert1987": {
        "authors": "Bobbert MF, Huijing PA, van Ingen Schenau GJ",
        "year": "1987",
        "title": "Drop jumping. I. The influence of jumping technique on the biomechanics of "
        "jumping",
        "journal": "Medicine and Science in Sports and Exercise",
        "volume": "19(4)",
        "pages": "332-338",
        "doi": "",
        "verified": False,  # not checked against the paper
    },
    "nagahara2014": {
        "authors": "Nagahara R, Matsubayashi T, Matsuo A, Zushi K",
        "year": "2014",
        "title": "Kinematics of transition during human accelerated sprinting",
        "journal": "Biology Open",
        "volume": "3(8)",
        "pages": "689-699",
        "doi": "10.1242/bio.20148284",
    },
    "furusawa1927": {
        "authors": "Furusawa K, Hill AV, Parkinson JL",
        "year": "1927",
        "title": 'The dynamics of "sprint" running',
        "journal": "Proceedings of the Royal Society of London B",
        "volume": "102(713)",
        "pages": "29-42",
        "doi": "10.1098/rspb.1927.0035",
        "verified": False,  # not checked against the paper
    },
    "cappadona2013": {
        "authors": "Cappadona J",
        "year": "2013",
        "title": "Kinematic and spatiotemporal analysis between sprint drills and maximal "
        "sprinting",
        "journal": "Undergraduate thesis, Sacred Heart University (PTHMS Undergraduate "
        "Publications 1)",
        "volume": "",
        "pages": "",
        "doi": "",
    },
    # --- walking template speed dependence and the Askling L-protocol drills
    # (models/drills/walking.toml, askling_*.toml)
    "murakami2017": {
        "authors": "Murakami R, Otaka Y",
        "year": "2017",
        "title": "Estimated lower speed boundary at which the walk ratio constancy is broken "
        "in healthy adults",
        "journal": "Journal of Physical Therapy Science",
        "volume": "29(4)",
        "pages": "722-725",
        "doi": "10.1589/jpts.29.722",
        "verified": False,  # DOI from PubMed's record; volume/pages not checked
    },
    "sekiya1998": {
        "authors": "Sekiya N, Nagasaki H",
        "year": "1998",
        "title": "Reproducibility of the walking patterns of normal young adults: test-retest "
        "reliability of the walk ratio (step-length/step-rate)",
        "journal": "Gait & Posture",
        "volume": "7(3)",
        "pages": "225-227",
        "doi": "10.1016/S0966-6362(98)00009-5",
        "verified": False,  # not checked against the publisher's page
    },
    "fukuchi2019": {
        "authors": "Fukuchi CA, Fukuchi RK, Duarte M",
        "year": "2019",
        "title": "Effects of walking speed on gait biomechanics in healthy participants: a "
        "systematic review and meta-analysis",
        "journal": "Systematic Reviews",
        "volume": "8",
        "pages": "153",
        "doi": "10.1186/s13643-019-1063-z",
    },
    "hof2002": {
        "authors": "Hof AL, Elzinga H, Grimmius W, Halbertsma JPK",
        "year": "2002",
        "title": "Speed dependence of averaged EMG profiles in walking",
        "journal": "Gait & Posture",
        "volume": "16(1)",
        "pages": "78-86",
        "doi": "10.1016/S0966-6362(01)00206-5",
        "verified": False,  # not checked against the publisher's page
    },
    "askling2013": {
        "authors": "Askling CM, Tengvar M, Thorstensson A",
        "year": "2013",
        "title": "Acute hamstring injuries in Swedish elite football: a prospective randomised "
        "controlled clinical trial comparing two rehabilitation protocols",
        "journal": "British Journal of Sports Medicine",
        "volume": "47(15)",
        "pages": "953-959",
        "doi": "10.1136/bjsports-2013-092165",
    },
    "fritsch1980": {
        "authors": "Fritsch FN, Carlson RE",
        "year": "1980",
        "title": "Monotone piecewise cubic interpolation",
        "journal": "SIAM Journal on Numerical Analysis",
        "volume": "17(2)",
        "pages": "238-246",
        "doi": "10.1137/0717021",
        "verified": False,  # not checked against the paper
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
