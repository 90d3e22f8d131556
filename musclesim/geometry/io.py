"""The fitted-geometry file: reading (``models/<name>.nc`` or a path → :class:`GeometryModel`),
writing (atomically), and the Dataset layout of the polynomial fits (``fits_to_dataset`` /
``fits_from_dataset``; formats 1-3, documented in ``models/README-geometry.md``). Readers and
writers live here, apart from the runtime model's physics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.arrays import to_device
from ..core.errors import InputError
from ..core.io import MODELS_DIR, atomic_path
from ..core.version import __version__
from ..muscle.parameters import FIELDS as PARAMETER_FIELDS, MuscleParameters
from .model import (
    FILE_FORMAT,
    FILE_FORMAT_MIN_PIECES,
    PIECE_MIN,
    PIECE_STEP,
    READABLE_FORMATS,
    GeometryModel,
    _Block,
)
from .path import PathBlock
from .path_io import specs_from_dataset
from .records import (
    HELDOUT_MAX_TOL,
    HELDOUT_RMS_TOL,
    PHYSIOLOGICAL_CAP_DEG,
    CoordinateRecord,
    MuscleFit,
    Threshold,
)


def _corrections_from_dataset(ds, muscles, coordinates, cidx, center, half, skip=()) -> dict:
    """The ``arm_correction_*`` variables as one-member :class:`_Block` s (none: empty); those
    of the muscles in ``skip`` (exact paths, whose convention is computed) are left out."""
    if "arm_correction_settings" not in ds.attrs:
        return {}
    blocks, pairs = [], []
    n = ds.sizes.get("correction", 0)
    for j in range(n):
        if str(ds["arm_correction_muscle"].values[j]) in skip:
            continue
        i = muscles.index(str(ds["arm_correction_muscle"].values[j]))
        c = coordinates.index(str(ds["arm_correction_coordinate"].values[j]))
        k = [int(x) for x in cidx[i] if x >= 0]
        degree = int(ds["arm_correction_degree"].values[j])
        n_terms = math.comb(degree + len(k), len(k))
        slots = ds["arm_correction_threshold_slot"].values[j]
        used = [p for p in range(1, slots.size) if slots[p] >= 0]
        coef = ds["arm_correction_coefficient"].values[j][[0, *used], :n_terms]
        blocks.append(
            _Block(
                muscle_index=(0,),
                coordinate_index=tuple(k),
                degree=degree,
                threshold_slot=(tuple(int(slots[p]) for p in used),),
                center=to_device(center[i, : len(k)]),
                half_width=to_device(half[i, : len(k)]),
                coefficient=to_device(coef[:, :, None]),
                threshold_value=to_device(
                    ds["arm_correction_threshold_value"].values[j][used][None, :]
                ),
            )
        )
        pairs.append((i, c))
    return dict(
        arm_corrections=tuple(blocks),
        arm_correction_pairs=tuple(pairs),
        arm_convention_fitted=True,
    )


def _distinct_regions(lower: np.ndarray, upper: np.ndarray, count: np.ndarray):
    """Excluded regions ``[muscle, region, coordinate]`` without those inside another region
    of the same muscle (the greedy cuts of the fit often nest), packed to the fewest regions;
    unused slots get lower = +inf > upper = -inf. The union, hence the domain mask, is
    unchanged; the mask costs region x coordinate comparisons per pose."""
    kept = []
    for i, n in enumerate(count):
        rows = []
        for r in range(int(n)):
            inside_other = any(
                np.all(lower[i, s] <= lower[i, r])
                and np.all(upper[i, s] >= upper[i, r])
                and (
                    s < r
                    or not (
                        np.array_equal(lower[i, s], lower[i, r])
                        and np.array_equal(upper[i, s], upper[i, r])
                    )
                )
                for s in range(int(n))
                if s != r
            )
            if not inside_other:
                rows.append(r)
        kept.append(rows)
    n_regions = max((len(rows) for rows in kept), default=0)
    lo = np.full((lower.shape[0], n_regions, lower.shape[2]), np.inf)
    hi = np.full((lower.shape[0], n_regions, lower.shape[2]), -np.inf)
    for i, rows in enumerate(kept):
        lo[i, : len(rows)] = lower[i, rows]
        hi[i, : len(rows)] = upper[i, rows]
    return lo, hi


def model_from_dataset(ds) -> GeometryModel:
    """Build a :class:`GeometryModel` from a fitted-geometry ``xarray.Dataset``."""
    fmt = ds.attrs.get("format")
    if fmt not in READABLE_FORMATS:
        raise InputError(
            f"format attribute is {fmt!r}",
            field="attrs.format",
            expected=" or ".join(repr(f) for f in READABLE_FORMATS),
        )
    muscles = [str(m) for m in ds["muscle"].values]
    coordinates = [str(c) for c in ds["coordinate"].values]
    cidx = ds["input_coordinate"].values.astype(int)
    degree = ds["degree"].values.astype(int)
    coef = ds["coefficient"].values
    center = ds["scale_center"].values
    half = ds["scale_half_width"].values
    tslot = ds["threshold_slot"].values.astype(int)
    tval = ds["threshold_value"].values
    # Files written before min pieces existed have no piece_kind: every piece is a step.
    kind = ds["piece_kind"].values.astype(int) if "piece_kind" in ds else np.zeros_like(tslot)

    paths = specs_from_dataset(ds)  # {muscle: (spec, checked range, check)}
    groups: dict[tuple, list[int]] = {}
    for i in range(len(muscles)):
        if muscles[i] in paths:
            continue
        k = tuple(int(c) for c in cidx[i] if c >= 0)
        key = (k, tuple(np.round(center[i, : len(k)], 12)), tuple(np.round(half[i, : len(k)], 12)))
        groups.setdefault(key, []).append(i)
    blocks, concat = [], []
    n_pieces_all = coef.shape[1]
    for (k, _, _), members in groups.items():
        deg = int(max(degree[i] for i in members))
        n_terms = math.comb(deg + len(k), len(k))
        n_pieces = 1 + max(int((tslot[i] >= 0).sum()) for i in members)
        block_coef = np.zeros((n_pieces, n_terms, len(members)))
        block_tval = np.full((len(members), n_pieces - 1), np.inf)
        slots, kinds = [], []
        for j, i in enumerate(members):
            t_i = math.comb(int(degree[i]) + len(k), len(k))
            block_coef[:, :t_i, j] = coef[i, :n_pieces, :t_i]
            row, kind_row = [], []
            for p in range(1, n_pieces):
                if p < n_pieces_all and tslot[i, p] >= 0:
                    row.append(int(tslot[i, p]))
                    kind_row.append(int(kind[i, p]))
                    block_tval[j, p - 1] = tval[i, p]
                else:
                    row.append(0)
                    kind_row.append(PIECE_STEP)
            slots.append(tuple(row))
            kinds.append(tuple(kind_row))
        blocks.append(
            _Block(
                muscle_index=tuple(members),
                coordinate_index=k,
                degree=deg,
                threshold_slot=tuple(slots),
                center=to_device(center[members[0], : len(k)]),
                half_width=to_device(half[members[0], : len(k)]),
                coefficient=to_device(block_coef),
                threshold_value=to_device(block_tval),
                piece_kind=tuple(kinds) if any(PIECE_MIN in r for r in kinds) else (),
            )
        )
        concat.extend(members)
    lo = ds["domain_lower"].values.copy()
    hi = ds["domain_upper"].values.copy()
    heldout_rms = ds["heldout_rms"].values.copy()
    heldout_max = ds["heldout_max"].values.copy()
    read: set[int] = set()
    for m, (spec, checked, check) in paths.items():
        i = muscles.index(m)
        ci = [coordinates.index(c) for c in spec.inputs]
        read.update(ci)
        # exact on the model's range it was checked on; no region is excluded
        lo[i], hi[i] = np.nan, np.nan
        for c, j in zip(spec.inputs, ci, strict=True):
            lo[i, j], hi[i, j] = checked[c]
        heldout_rms[i], heldout_max[i] = check.length_rms, check.length_max
    if paths:
        index = [muscles.index(m) for m in paths]
        ci = sorted(read)
        names = [coordinates[c] for c in ci]
        specs = [spec for spec, _, _ in paths.values()]
        blocks.append(PathBlock.from_specs(specs, index, names, ci))
        concat.extend(index)
    order = np.argsort(np.asarray(concat))
    params = MuscleParameters(**{f: ds[f].values for f in PARAMETER_FIELDS})
    lo[np.isnan(lo)] = -np.inf
    hi[np.isnan(hi)] = np.inf
    if "excluded_lower" in ds:
        elo = ds["excluded_lower"].values.copy()
        ehi = ds["excluded_upper"].values.copy()
        used = ds["excluded_count"].values.astype(int).copy()
        used[[muscles.index(m) for m in paths]] = 0
        elo[np.isnan(elo)] = -np.inf
        ehi[np.isnan(ehi)] = np.inf
        elo, ehi = _distinct_regions(elo, ehi, used)
    else:
        elo = np.zeros((len(muscles), 0, len(coordinates)))
        ehi = np.zeros((len(muscles), 0, len(coordinates)))
    owner, region = np.nonzero(np.all(elo <= ehi, axis=-1))  # used slots, muscle by muscle
    if "locked_value" in ds:
        locked = tuple(
            (str(c), float(v))
            for c, v in zip(ds["locked_coordinate"].values, ds["locked_value"].values, strict=True)
        )
        crosses = ds["crosses_locked"].values.astype(bool)
        locked_muscles = tuple(tuple(bool(x) for x in row) for row in crosses)
    else:
        locked, locked_muscles = (), tuple(() for _ in muscles)
    signs = json.loads(ds.attrs["knee_flexion_sign"])
    return GeometryModel(
        name=str(ds.attrs["name"]),
        muscles=tuple(muscles),
        coordinates=tuple(coordinates),
        blocks=tuple(blocks),
        order=tuple(int(o) for o in order),
        parameters=params,
        upright_length=to_device(ds["upright_length"].values),
        domain_lower=to_device(lo),
        domain_upper=to_device(hi),
        excluded_lower=to_device(elo[owner, region].reshape(-1, len(coordinates))),
        excluded_upper=to_device(ehi[owner, region].reshape(-1, len(coordinates))),
        excluded_owner=tuple(int(m) for m in owner),
        heldout_rms=to_device(heldout_rms),
        heldout_max=to_device(heldout_max),
        locked_coordinates=locked,
        locked_muscles=locked_muscles,
        knee_flexion_sign=tuple((str(c), int(s)) for c, s in signs.items()),
        source_file=str(ds.attrs["source_file"]),
        source_sha256=str(ds.attrs["source_sha256"]),
        **_corrections_from_dataset(ds, muscles, coordinates, cidx, center, half, skip=paths),
    )


def available_models() -> list[str]:
    """Names of the fitted models shipped in ``models/``."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.nc"))


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A shipped model name (``"sprinter_ja1"``) or a path to a fitted ``.nc`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".nc" or candidate.is_file() or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise InputError(
                "file not found",
                path=candidate,
                expected="a fitted geometry file written by `musclesim fit-geometry`",
            )
        return candidate
    shipped = MODELS_DIR / f"{name_or_path}.nc"
    if not shipped.is_file():
        raise InputError(
            f"no shipped model named {str(name_or_path)!r}",
            field="model",
            expected=f"one of {available_models()} or a path to a fitted .nc file",
        )
    return shipped


def load_geometry_dataset(name_or_path: str | Path):
    """The fitted-geometry file as an ``xarray.Dataset`` (error report, domain, provenance)."""
    path = resolve_model_path(name_or_path)
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read netCDF ({exc})", path=path, expected="a fitted geometry file"
        ) from exc


def load_model(name_or_path: str | Path) -> GeometryModel:
    """Load a fitted geometry model by shipped name or path; no OpenSim needed.

    Example::

        model = musclesim.load_model("sprinter_ja1")
        q = {c: jnp.zeros(()) for c in model.coordinates}
        model.mtu_length(q)        # [muscle] metres, equals model.upright_length
    """
    ds = load_geometry_dataset(name_or_path)
    try:
        return model_from_dataset(ds)
    except KeyError as exc:
        raise InputError(
            f"missing variable {exc}",
            path=resolve_model_path(name_or_path),
            expected="a fitted geometry file",
        ) from exc


# -------------------------------------------------------------------------------------------
def fits_to_dataset(
    *,
    name,
    muscles,
    fits,
    coordinates,
    coordinate_records,
    box,
    locked,
    upright_length,
    parameters,
    source_path,
    source_sha256,
    knee_signs,
    couplers,
    settings,
):
    """Assemble the fitted-geometry ``xarray.Dataset`` (the file format; see module doc)."""
    M, C = len(muscles), len(coordinates)
    K = max(len(fits[m].coordinates) for m in muscles)
    P = max(1 + len(fits[m].thresholds) for m in muscles)
    T = max(fits[m].coefficients.shape[1] for m in muscles)
    cpos = {c: k for k, c in enumerate(coordinates)}
    input_coordinate = np.full((M, K), -1, dtype=np.int32)
    center = np.full((M, K), np.nan)
    half = np.full((M, K), np.nan)
    degree = np.zeros(M, dtype=np.int32)
    coef = np.zeros((M, P, T))
    tslot = np.full((M, P), -1, dtype=np.int32)
    tval = np.full((M, P), np.nan)
    kind = np.full((M, P), PIECE_STEP, dtype=np.int32)
    dlo = np.full((M, C), np.nan)
    dhi = np.full((M, C), np.nan)
    cuts, notes = [], []
    for i, m in enumerate(muscles):
        f = fits[m]
        k = len(f.coordinates)
        input_coordinate[i, :k] = [cpos[c] for c in f.coordinates]
        center[i, :k] = f.center
        half[i, :k] = f.half_width
        degree[i] = f.degree
        coef[i, : f.coefficients.shape[0], : f.coefficients.shape[1]] = f.coefficients
        for p, t in enumerate(f.thresholds, start=1):
            tslot[i, p] = f.coordinates.index(t.coordinate)
            tval[i, p] = t.value
            kind[i, p] = t.kind
        for c in f.coordinates:
            dlo[i, cpos[c]], dhi[i, cpos[c]] = f.domain[c]
        cuts.append("; ".join(f.cuts))
        notes.append("; ".join(f.notes))
    has_min = bool(np.any(kind == PIECE_MIN))
    report = {
        "heldout_rms": (
            None,
            "m",
            "RMS error vs OpenSim on held-out uniform random poses in the domain",
        ),
        "heldout_max": (
            None,
            "m",
            "maximum error vs OpenSim on held-out uniform random poses in the domain",
        ),
        "validation_rms": (None, "m", "RMS error on the validation split used to pick the degree"),
    }
    data = {
        "input_coordinate": (
            ("muscle", "slot"),
            input_coordinate,
            {"long_name": "index into coordinate of each polynomial variable", "units": "1"},
        ),
        "scale_center": (
            ("muscle", "slot"),
            center,
            {"long_name": "centre a of x = (q - a) / b", "units": "rad"},
        ),
        "scale_half_width": (
            ("muscle", "slot"),
            half,
            {"long_name": "half-width b of x = (q - a) / b", "units": "rad"},
        ),
        "degree": (("muscle",), degree, {"long_name": "total polynomial degree", "units": "1"}),
        "coefficient": (
            ("muscle", "piece", "term"),
            coef,
            {"long_name": "Chebyshev coefficients (graded exponent order)", "units": "m"},
        ),
        "threshold_slot": (
            ("muscle", "piece"),
            tslot,
            {"long_name": "variable of piece p's step H(q >= theta); -1 none", "units": "1"},
        ),
        "threshold_value": (
            ("muscle", "piece"),
            tval,
            {"long_name": "conditional path point threshold theta", "units": "rad"},
        ),
        **(
            {
                "piece_kind": (
                    ("muscle", "piece"),
                    kind,
                    {
                        "long_name": f"{PIECE_STEP}: piece p adds P_p where q >= theta; "
                        f"{PIECE_MIN}: it adds min(0, P_p) there (a kink where P_p = 0)",
                        "units": "1",
                    },
                )
            }
            if has_min
            else {}
        ),
        "domain_lower": (
            ("muscle", "coordinate"),
            dlo,
            {"long_name": "lower end of the fitted domain (NaN: not crossed)", "units": "rad"},
        ),
        "domain_upper": (
            ("muscle", "coordinate"),
            dhi,
            {"long_name": "upper end of the fitted domain (NaN: not crossed)", "units": "rad"},
        ),
        "domain_cuts": (
            ("muscle",),
            np.array(cuts, dtype=object),
            {"long_name": "5 % slabs cut off the sampled box where the path is erratic"},
        ),
        "upright_length": (
            ("muscle",),
            np.asarray(upright_length),
            {
                "long_name": "MTU length at the upright pose (all hip, knee, ankle "
                "angles 0), OpenSim",
                "units": "m",
            },
        ),
        "heldout_n": (
            ("muscle",),
            np.array([fits[m].heldout_n for m in muscles]),
            {"long_name": "held-out poses inside the domain", "units": "1"},
        ),
        "train_n": (
            ("muscle",),
            np.array([fits[m].train_n for m in muscles]),
            {"long_name": "training poses", "units": "1"},
        ),
        "sampled_lower": (
            ("coordinate",),
            np.array([box[c][0] for c in coordinates]),
            {"long_name": "lower end of the sampled range", "units": "rad"},
        ),
        "sampled_upper": (
            ("coordinate",),
            np.array([box[c][1] for c in coordinates]),
            {"long_name": "upper end of the sampled range", "units": "rad"},
        ),
        "model_range_lower": (
            ("coordinate",),
            np.array([coordinate_records[c].lower for c in coordinates]),
            {"long_name": "coordinate range in the .osim", "units": "rad"},
        ),
        "model_range_upper": (
            ("coordinate",),
            np.array([coordinate_records[c].upper for c in coordinates]),
            {"long_name": "coordinate range in the .osim", "units": "rad"},
        ),
    }
    for key, (_, unit, long_name) in report.items():
        data[key] = (
            ("muscle",),
            np.array([getattr(fits[m], key) for m in muscles]),
            {"long_name": long_name, "units": unit},
        )
    data["fit_notes"] = (
        ("muscle",),
        np.array(notes, dtype=object),
        {"long_name": "kinks fitted piecewise and erratic poses found"},
    )
    units = {
        "max_isometric_force": "N",
        "optimal_fiber_length": "m",
        "tendon_slack_length": "m",
        "pennation_angle_at_optimal": "rad",
        "max_contraction_velocity": "l_opt/s",
        "activation_time_constant": "s",
        "deactivation_time_constant": "s",
    }
    for f, v in parameters.as_dict().items():
        data[f] = (
            ("muscle",),
            np.asarray(v, dtype=float),
            {"long_name": f"muscle parameter {f} (OpenSim property)", "units": units.get(f, "1")},
        )
    n_regions = max(len(fits[m].excluded) for m in muscles)
    if n_regions:
        elo = np.full((M, n_regions, C), np.nan)
        ehi = np.full((M, n_regions, C), np.nan)
        for i, m in enumerate(muscles):
            for r, region in enumerate(fits[m].excluded):
                for c, (a, b) in region.items():
                    elo[i, r, cpos[c]], ehi[i, r, cpos[c]] = a, b
        data["excluded_count"] = (
            ("muscle",),
            np.array([len(fits[m].excluded) for m in muscles]),
            {"long_name": "number of excluded regions", "units": "1"},
        )
        for key, arr, end in (("excluded_lower", elo, "lower"), ("excluded_upper", ehi, "upper")):
            data[key] = (
                ("muscle", "region", "coordinate"),
                arr,
                {
                    "long_name": f"{end} corner of a region excluded from the domain where "
                    "OpenSim's path is erratic (NaN: unbounded)",
                    "units": "rad",
                },
            )
    locked_names = sorted({c for m in muscles for c in locked[m]})
    if locked_names:
        values_by = {c: v for m in muscles for c, v in locked[m].items()}
        data["locked_value"] = (
            ("locked_coordinate",),
            np.array([values_by[c] for c in locked_names]),
            {"long_name": "value of a coordinate locked in the model", "units": "rad"},
        )
        data["crosses_locked"] = (
            ("muscle", "locked_coordinate"),
            np.array([[c in locked[m] for c in locked_names] for m in muscles], dtype=np.int8),
            {"long_name": "muscle crosses the locked coordinate", "units": "1"},
        )
    coords = {"muscle": list(muscles), "coordinate": list(coordinates)}
    if locked_names:
        coords["locked_coordinate"] = locked_names
    ds = xr.Dataset(
        {k: xr.Variable(dims, v, attrs) for k, (dims, v, attrs) in data.items()},
        coords=coords,
    )
    ds.attrs.update(
        {
            "format": FILE_FORMAT_MIN_PIECES if has_min else FILE_FORMAT,
            "name": name,
            "source_file": Path(source_path).name,
            "source_sha256": source_sha256,
            "musclesim_version": __version__,
            "basis": "total-degree tensor Chebyshev T_n(x), x = (q - scale_center) / "
            "scale_half_width; exponents ordered by musclesim.geometry.records.exponents",
            "pieces": "L = P_0 + sum_p H(q[threshold_slot_p] >= threshold_value_p) P_p"
            + (", with min(0, P_p) in place of P_p where piece_kind_p = 1" if has_min else ""),
            "moment_arm": "r = -dL/dq (analytic derivative of the polynomial)",
            "upright_pose": "every hip, knee, ankle (and subtalar, mtp) angle 0 rad; coupled "
            "coordinates from their coupler; other coordinates at their defaults",
            "knee_flexion_sign": json.dumps(knee_signs),
            "couplers": json.dumps(couplers),
            "physiological_cap_deg": json.dumps(PHYSIOLOGICAL_CAP_DEG),
            "heldout_tolerance_m": json.dumps({"rms": HELDOUT_RMS_TOL, "max": HELDOUT_MAX_TOL}),
            "fit_settings": json.dumps(settings),
        }
    )
    return ds


def fits_from_dataset(ds) -> dict:
    """The inverse of :func:`fits_to_dataset`: per-muscle :class:`MuscleFit` records and the
    model-wide fields of a fitted-geometry dataset, so that a few muscles can be refitted and
    merged back (:func:`~.fitting.fit.merge_geometry`). Returns the keyword arguments
    of :func:`fits_to_dataset` (parameters as a ``{field: [muscle]}`` mapping)."""

    muscles = [str(m) for m in ds["muscle"].values]
    coordinates = [str(c) for c in ds["coordinate"].values]
    n_regions = ds.sizes.get("region", 0)
    fits = {}
    for i, m in enumerate(muscles):
        names = [coordinates[int(k)] for k in ds["input_coordinate"].values[i] if k >= 0]
        k = len(names)
        degree = int(ds["degree"].values[i])
        slots = ds["threshold_slot"].values[i]
        values = ds["threshold_value"].values[i]
        kinds = ds["piece_kind"].values[i] if "piece_kind" in ds else np.zeros_like(slots)
        thresholds = [
            Threshold(names[int(s)], float(v), int(t))
            for s, v, t in zip(slots[1:], values[1:], kinds[1:], strict=True)
            if s >= 0
        ]
        n_terms = math.comb(degree + k, k)
        coefficients = np.array(ds["coefficient"].values[i, : 1 + len(thresholds), :n_terms])
        cpos = [coordinates.index(c) for c in names]
        domain = {
            c: (float(ds["domain_lower"].values[i, j]), float(ds["domain_upper"].values[i, j]))
            for c, j in zip(names, cpos, strict=True)
        }
        excluded = []
        if n_regions:
            for r in range(int(ds["excluded_count"].values[i])):
                region = {}
                for j, c in enumerate(coordinates):
                    a = ds["excluded_lower"].values[i, r, j]
                    b = ds["excluded_upper"].values[i, r, j]
                    if not (np.isnan(a) and np.isnan(b)):
                        region[c] = (float(a), float(b))
                excluded.append(region)
        cuts = str(ds["domain_cuts"].values[i])
        notes = str(ds["fit_notes"].values[i])
        fits[m] = MuscleFit(
            name=m,
            coordinates=names,
            center=np.array(ds["scale_center"].values[i, :k]),
            half_width=np.array(ds["scale_half_width"].values[i, :k]),
            degree=degree,
            thresholds=thresholds,
            coefficients=coefficients,
            domain=domain,
            validation_rms=float(ds["validation_rms"].values[i]),
            heldout_rms=float(ds["heldout_rms"].values[i]),
            heldout_max=float(ds["heldout_max"].values[i]),
            heldout_n=int(ds["heldout_n"].values[i]),
            train_n=int(ds["train_n"].values[i]),
            cuts=[cuts] if cuts else [],
            notes=[notes] if notes else [],
            excluded=excluded,
        )
    records = {
        c: CoordinateRecord(
            name=c,
            lower=float(ds["model_range_lower"].values[j]),
            upper=float(ds["model_range_upper"].values[j]),
            default=math.nan,
            locked=False,
            rotational=True,
            dependent=False,
            on_ground_joint=False,
        )
        for j, c in enumerate(coordinates)
    }
    locked = {m: {} for m in muscles}
    if "locked_value" in ds:
        names = [str(c) for c in ds["locked_coordinate"].values]
        for i, m in enumerate(muscles):
            for j, c in enumerate(names):
                if ds["crosses_locked"].values[i, j]:
                    locked[m][c] = float(ds["locked_value"].values[j])
    return dict(
        name=str(ds.attrs["name"]),
        muscles=muscles,
        fits=fits,
        coordinates=coordinates,
        coordinate_records=records,
        box={
            c: (float(ds["sampled_lower"].values[j]), float(ds["sampled_upper"].values[j]))
            for j, c in enumerate(coordinates)
        },
        locked=locked,
        upright_length=np.array(ds["upright_length"].values),
        parameters={f: np.array(ds[f].values) for f in PARAMETER_FIELDS},
        source_file=str(ds.attrs["source_file"]),
        source_sha256=str(ds.attrs["source_sha256"]),
        knee_signs=json.loads(ds.attrs["knee_flexion_sign"]),
        couplers=json.loads(ds.attrs["couplers"]),
        settings=json.loads(ds.attrs["fit_settings"]),
    )


def write_geometry(dataset, path: str | Path) -> Path:
    """Write a fitted model atomically (compressed netCDF)."""
    encoding = {
        v: {"zlib": True, "complevel": 6}
        for v in dataset.data_vars
        if dataset[v].dtype.kind in "fi"
    }

    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, encoding=encoding)
    return Path(path)
