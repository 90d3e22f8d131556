"""The exact-path part of the fitted-geometry file (format 3): :class:`~.records.PathSpec` and its
check against OpenSim to and from ``path_*`` variables of the geometry Dataset (layout in
``models/README-geometry.md``), attaching, stripping and carrying paths over a refit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..core.errors import InputError
from .model import FILE_FORMAT, FILE_FORMAT_MIN_PIECES, FILE_FORMAT_PATHS
from .records import EXACT_TOLERANCE, PathCheck, PathSpec

#: The leading dimension of every exact-path variable (stripped and carried together).
PATH_DIM = "path"


_MATRICES = ("parent_rotation", "child_rotation", "wrap_rotation")


_VECTORS = ("parent_translation", "child_translation", "translation_offset", "wrap_translation")


_AXIS_ROWS = ("rotation_slope", "rotation_intercept", "translation_slope")


_CHECK_FIELDS = {
    "length_rms": ("m", "length minus OpenSim's, RMS over the check poses"),
    "length_max": ("m", "largest |length minus OpenSim's| over the check poses"),
    "n": ("1", "check poses (uniform over the model's coordinate ranges, and upright)"),
    "opensim_arm_rms": ("m", "OpenSim-convention moment arm minus computeMomentArm, RMS"),
    "opensim_arm_max": ("m", "largest |OpenSim-convention moment arm minus computeMomentArm|"),
    "convention_rms": ("m", "computeMomentArm minus -dL/dq, RMS (what the convention changes)"),
    "n_arm": ("1", "moment-arm check poses"),
    "long_way_share": ("1", "share of check poses where OpenSim wraps the long way round"),
    "wrapped_share": ("1", "share of check poses where the path wraps"),
    "seed": ("1", "seed of the check poses"),
}


def paths_to_dataset(
    specs: Sequence[PathSpec],
    checks: Sequence[PathCheck],
    domains: Sequence[dict[str, tuple[float, float]]],
    coordinates: Sequence[str],
):
    """The ``path_*`` variables of ``specs`` (with their checks and checked ranges) as an
    ``xarray.Dataset`` on the file's ``coordinate`` list."""
    n = len(specs)
    n_point = max((len(s.location) for s in specs), default=1)
    n_slot = max((len(s.inputs) for s in specs), default=1)
    cpos = {c: k for k, c in enumerate(coordinates)}
    location = np.full((n, n_point, 3), np.nan)
    moving = np.full((n, n_point), -1, dtype=np.int8)
    inputs = np.full((n, n_slot), -1, dtype=np.int32)
    dlo = np.full((n, n_slot), np.nan)
    dhi = np.full((n, n_slot), np.nan)
    for j, (s, dom) in enumerate(zip(specs, domains, strict=True)):
        location[j, : len(s.location)] = s.location
        moving[j, : len(s.location)] = s.point_moving
        inputs[j, : len(s.inputs)] = [cpos[c] for c in s.inputs]
        for k, c in enumerate(s.inputs):
            dlo[j, k], dhi[j, k] = dom[c]

    def stack(attr, dtype=float):
        return np.array([np.asarray(getattr(s, attr)) for s in specs], dtype=dtype)

    data = {
        "path_muscle": ((PATH_DIM,), np.array([s.muscle for s in specs], dtype=object), {}),
        "path_base_body": ((PATH_DIM,), np.array([s.bodies[0] for s in specs], dtype=object), {}),
        "path_other_body": ((PATH_DIM,), np.array([s.bodies[1] for s in specs], dtype=object), {}),
        "path_joint": ((PATH_DIM,), np.array([s.joint for s in specs], dtype=object), {}),
        "path_wrap": ((PATH_DIM,), np.array([s.wrap for s in specs], dtype=object), {}),
        "path_input_coordinate": (
            (PATH_DIM, "path_slot"),
            inputs,
            {"long_name": "index into coordinate of each of the path's inputs", "units": "1"},
        ),
        "path_domain_lower": (
            (PATH_DIM, "path_slot"),
            dlo,
            {"long_name": "lower end of the checked range (the model's)", "units": "rad"},
        ),
        "path_domain_upper": (
            (PATH_DIM, "path_slot"),
            dhi,
            {"long_name": "upper end of the checked range (the model's)", "units": "rad"},
        ),
        "path_point_location": (
            (PATH_DIM, "path_point", "path_xyz"),
            location,
            {"long_name": "path point in its body's frame (NaN: unused)", "units": "m"},
        ),
        "path_point_moving": (
            (PATH_DIM, "path_point"),
            moving,
            {"long_name": "1: the point is on the other body, 0: on the base body", "units": "1"},
        ),
        "path_parent_is_base": ((PATH_DIM,), stack("parent_is_base", np.int8), {"units": "1"}),
        "path_rotation_axis": (
            (PATH_DIM, "path_axis", "path_xyz"),
            stack("rotation_axis"),
            {"long_name": "joint rotation axes in the joint's parent frame", "units": "1"},
        ),
        "path_rotation_input": (
            (PATH_DIM, "path_axis"),
            stack("rotation_input", np.int32),
            {"long_name": "slot in path_input_coordinate (-1: constant)", "units": "1"},
        ),
        "path_translation_axis": (
            (PATH_DIM, "path_axis", "path_xyz"),
            stack("translation_axis"),
            {"units": "1"},
        ),
        "path_translation_input": (
            (PATH_DIM, "path_axis"),
            stack("translation_input", np.int32),
            {"units": "1"},
        ),
        "path_wrap_radius": ((PATH_DIM,), stack("wrap_radius"), {"units": "m"}),
        "path_wrap_length": ((PATH_DIM,), stack("wrap_length"), {"units": "m"}),
        "path_wrap_axis": ((PATH_DIM,), stack("wrap_axis", np.int32), {"units": "1"}),
        "path_wrap_sign": (
            (PATH_DIM,),
            stack("wrap_sign", np.int32),
            {"long_name": "quadrant sign (0: all)", "units": "1"},
        ),
        "path_wrap_first": ((PATH_DIM,), stack("wrap_first", np.int32), {"units": "1"}),
        "path_wrap_last": ((PATH_DIM,), stack("wrap_last", np.int32), {"units": "1"}),
    }
    for key in _MATRICES:
        data[f"path_{key}"] = ((PATH_DIM, "path_row", "path_column"), stack(key), {"units": "1"})
    for key in _VECTORS:
        data[f"path_{key}"] = ((PATH_DIM, "path_xyz"), stack(key), {"units": "m"})
    for key in _AXIS_ROWS:
        unit = "rad" if key.startswith("rotation") else "m"
        data[f"path_{key}"] = ((PATH_DIM, "path_axis"), stack(key), {"units": f"{unit} per unit"})
    for key, (unit, long_name) in _CHECK_FIELDS.items():
        data[f"path_check_{key}"] = (
            (PATH_DIM,),
            np.array([getattr(c, key) for c in checks]),
            {"units": unit, "long_name": long_name},
        )
    return xr.Dataset(
        {k: xr.Variable(d, v, a) for k, (d, v, a) in data.items()},
        coords={"coordinate": list(coordinates)},
    )


def path_muscles(ds) -> list[str]:
    """Muscles of a fitted-geometry dataset that have an exact path."""
    return [str(m) for m in ds["path_muscle"].values] if "path_muscle" in ds else []


def specs_from_dataset(ds) -> dict[str, tuple[PathSpec, dict, PathCheck]]:
    """Each exact path of a fitted-geometry dataset: ``{muscle: (spec, domain, check)}``."""
    coordinates = [str(c) for c in ds["coordinate"].values]
    arrays = {k: ds[k].values for k in ds.data_vars if ds[k].dims[:1] == (PATH_DIM,)}
    out = {}
    for j, m in enumerate(path_muscles(ds)):
        v = {k: a[j] for k, a in arrays.items()}
        n_point = int(np.sum(v["path_point_moving"] >= 0))
        inputs = [coordinates[int(k)] for k in v["path_input_coordinate"] if k >= 0]
        kwargs = {k: np.array(v[f"path_{k}"], dtype=float) for k in _MATRICES + _VECTORS}
        kwargs.update({k: np.array(v[f"path_{k}"], dtype=float) for k in _AXIS_ROWS})
        spec = PathSpec(
            muscle=m,
            inputs=inputs,
            bodies=(str(v["path_base_body"]), str(v["path_other_body"])),
            joint=str(v["path_joint"]),
            location=np.array(v["path_point_location"][:n_point], dtype=float),
            point_moving=np.array(v["path_point_moving"][:n_point] == 1),
            parent_is_base=bool(v["path_parent_is_base"]),
            rotation_axis=np.array(v["path_rotation_axis"], dtype=float),
            rotation_input=np.array(v["path_rotation_input"], dtype=int),
            translation_axis=np.array(v["path_translation_axis"], dtype=float),
            translation_input=np.array(v["path_translation_input"], dtype=int),
            wrap=str(v["path_wrap"]),
            wrap_radius=float(v["path_wrap_radius"]),
            wrap_length=float(v["path_wrap_length"]),
            wrap_axis=int(v["path_wrap_axis"]),
            wrap_sign=int(v["path_wrap_sign"]),
            wrap_first=int(v["path_wrap_first"]),
            wrap_last=int(v["path_wrap_last"]),
            **kwargs,
        )
        domain = {
            c: (float(v["path_domain_lower"][k]), float(v["path_domain_upper"][k]))
            for k, c in enumerate(inputs)
        }
        kinds = {"n": int, "n_arm": int, "seed": int}
        check = PathCheck(
            muscle=m,
            **{k: kinds.get(k, float)(v[f"path_check_{k}"]) for k in _CHECK_FIELDS},
        )
        out[m] = (spec, domain, check)
    return out


def _without_paths(ds):
    out = ds.drop_vars([v for v in ds.data_vars if ds[v].dims[:1] == (PATH_DIM,)])
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "path_settings"}

    has_min = "piece_kind" in out and bool(np.any(out["piece_kind"].values == 1))
    out.attrs["format"] = FILE_FORMAT_MIN_PIECES if has_min else FILE_FORMAT
    return out


def _with_paths(ds, records: dict, settings: dict):
    """``ds`` (without paths) with the exact paths ``records`` (``{muscle: (spec, domain,
    check)}``), in the file's muscle order, and ``settings`` as ``path_settings``."""
    if not records:
        return ds

    coordinates = [str(c) for c in ds["coordinate"].values]
    ordered = [records[m] for m in (str(x) for x in ds["muscle"].values) if m in records]
    specs, domains, checks = zip(*ordered, strict=True)
    out = ds.merge(paths_to_dataset(specs, checks, domains, coordinates), combine_attrs="override")
    out.attrs = dict(ds.attrs)
    out.attrs["path_settings"] = json.dumps(settings)
    out.attrs["format"] = FILE_FORMAT_PATHS
    return out


def attach_paths(geometry_ds, records: dict, settings: dict):
    """``geometry_ds`` with the exact paths ``records`` (``{muscle: (spec, domain, check)}``)
    added, replacing those of the same muscles and keeping the others; ``settings`` (how they
    were made) is appended to the file's ``path_settings["fits"]``."""
    muscles = [str(m) for m in geometry_ds["muscle"].values]
    unknown = [m for m in records if m not in muscles]
    if unknown:
        raise InputError(
            f"muscle(s) {unknown} are not in the fitted geometry",
            field="muscles",
            expected=f"muscles among {muscles}",
        )
    kept = {m: r for m, r in specs_from_dataset(geometry_ds).items() if m not in records}
    old = json.loads(geometry_ds.attrs.get("path_settings", "{}"))
    merged = {
        "tolerance_m": EXACT_TOLERANCE,
        "algorithm": "OpenSim 4.6 WrapCylinder::wrapLine and GeometryPath::applyWrapObjects "
        "(one wrap object, no visualiser), musclesim.geometry.path",
        "fits": list(old.get("fits", [])) + [dict(settings, muscles=list(records))],
    }
    return _with_paths(_without_paths(geometry_ds), {**kept, **records}, merged)


def strip_paths(ds, muscles: Sequence[str] | None = None):
    """``ds`` without the exact paths of ``muscles`` (default: all of them); the polynomial
    surrogates stored beside them serve those muscles again."""
    kept = {
        m: r for m, r in specs_from_dataset(ds).items() if muscles is not None and m not in muscles
    }
    return _with_paths(_without_paths(ds), kept, json.loads(ds.attrs.get("path_settings", "{}")))


def carry_paths(base, merged, refitted: Sequence[str]):
    """After a polynomial refit of ``refitted`` is merged into ``base``: ``merged`` with
    ``base``'s exact paths of the other muscles (a refit replaces a muscle's path: the last
    fit wins)."""
    kept = {m: r for m, r in specs_from_dataset(base).items() if m not in refitted}
    return _with_paths(merged, kept, json.loads(base.attrs.get("path_settings", "{}")))
