"""Muscle-group vocabulary shared by both model families.

The Rajagopal family (Rajagopal 2016, Lai 2017, Uhlrich 2022, the sprinter model) and the
gait2392/Hamner family (Delp 1990, Anderson & Pandy 1999, Hamner 2010) name the same muscles
differently (../shared/data/SOURCES.md 3.1): ``bflh_r`` vs ``bifemlh_r``, ``gasmed_r`` vs
``med_gas_r``. A group name maps onto whichever names a model has.

A group name may carry a side: ``"hamstrings_r"`` (right only), ``"hamstrings"`` (both sides,
right first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import InputError

#: Single muscles: group -> the model's base names in each family (side suffix ``_r``/``_l``
#: added per side). Names from the models' ForceSets (SOURCES.md 3.1).
MUSCLE_ALIASES: dict[str, tuple[str, ...]] = {
    "bflh": ("bflh", "bifemlh"),
    "bfsh": ("bfsh", "bifemsh"),
    "semiten": ("semiten",),
    "semimem": ("semimem",),
    "gasmed": ("gasmed", "med_gas"),
    "gaslat": ("gaslat", "lat_gas"),
    "soleus": ("soleus",),
    "recfem": ("recfem", "rect_fem"),
    "vasint": ("vasint", "vas_int"),
    "vaslat": ("vaslat", "vas_lat"),
    "vasmed": ("vasmed", "vas_med"),
    "tibant": ("tibant", "tib_ant"),
}

#: Groups of muscles, in the order results list them. The hamstrings are the biceps femoris
#: (long and short head), semitendinosus and semimembranosus; the calf (triceps surae) the two
#: gastrocnemius heads and soleus (DESIGN.md, "Muscle names").
GROUPS: dict[str, tuple[str, ...]] = {
    "hamstrings": ("bflh", "bfsh", "semiten", "semimem"),
    "biarticular_hamstrings": ("bflh", "semiten", "semimem"),
    "calf": ("gasmed", "gaslat", "soleus"),
    "triceps_surae": ("gasmed", "gaslat", "soleus"),
    "gastrocnemius": ("gasmed", "gaslat"),
    "quadriceps": ("recfem", "vasint", "vaslat", "vasmed"),
    **{k: (k,) for k in MUSCLE_ALIASES},
}

SIDES = ("r", "l")

#: Joint coordinates of a leg, proximal to distal, as the Rajagopal, Lai, sprinter, gait2392
#: and Hamner models name them (followed by ``_r``/``_l``): what inverse dynamics reports per
#: leg and what static optimisation shares among the muscles.
LEG_COORDINATES = (
    "hip_flexion",
    "hip_adduction",
    "hip_rotation",
    "knee_angle",
    "ankle_angle",
    "subtalar_angle",
    "mtp_angle",
)


def _split_side(name: str) -> tuple[str, tuple[str, ...]]:
    for side in SIDES:
        if name.endswith("_" + side):
            return name[: -len(side) - 1], (side,)
    return name, SIDES


def is_group(name: str) -> bool:
    """Whether ``name`` (with or without a side suffix) is a group of the vocabulary."""
    return _split_side(name)[0] in GROUPS


def muscle_group(group: str, available: Iterable[str]) -> list[str]:
    """The model's own names for ``group`` (e.g. ``"hamstrings"``, ``"calf_r"``, ``"bflh_l"``),
    in group order, right side before left; only names present in ``available``.

    Raises :class:`InputError` for an unknown group or one with no muscle in the model.
    """
    available = list(available)
    have = set(available)
    base, sides = _split_side(group)
    if base not in GROUPS:
        raise InputError(
            f"unknown muscle group {group!r}",
            field="group",
            expected=f"one of {sorted(GROUPS)} (optionally with _r or _l)",
        )
    out = []
    for side in sides:
        for member in GROUPS[base]:
            for alias in MUSCLE_ALIASES[member]:
                candidate = f"{alias}_{side}"
                if candidate in have:
                    out.append(candidate)
                    break
    if not out:
        raise InputError(
            f"group {group!r} has no muscle in this model",
            field="group",
            expected=f"a group whose muscles are among {available[:8]} ...",
        )
    return out


def canonical_name(muscle: str) -> str:
    """The vocabulary's name for a model muscle: ``bifemlh_r`` -> ``bflh_r``; unknown names are
    returned unchanged."""
    base, sides = _split_side(muscle)
    for key, aliases in MUSCLE_ALIASES.items():
        if base in aliases:
            return f"{key}_{sides[0]}" if len(sides) == 1 else key
    return muscle


def expand_muscles(names: str | Sequence[str], available: Sequence[str]) -> list[str]:
    """Muscle names and group names -> the model's muscle names (no duplicates, order kept).

    A name the model has is kept as is; otherwise it is read as a group (:func:`muscle_group`);
    a name that is neither raises :class:`InputError`.
    """
    if isinstance(names, str):
        names = [names]
    have = set(available)
    out: list[str] = []
    for name in names:
        if name in have:
            items = [name]
        elif is_group(name):
            items = muscle_group(name, available)
        else:
            raise InputError(
                f"unknown muscle {name!r}",
                field="muscles",
                expected=f"a muscle of the model ({list(available)[:6]} ...) or a group "
                f"({sorted(GROUPS)[:6]} ...)",
            )
        out.extend(m for m in items if m not in out)
    return out
