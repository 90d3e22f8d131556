"""Drill-safety lookup tables: drill x intensity x athlete profile, computed once, read fast.

:func:`build_table` evaluates the injured muscle's peak eccentric fibre strain, peak MTU strain
and peak force for every drill of the library at ``n_intensities`` intensities spanning its
range, for ``n_profiles`` athlete profiles (body size, maximal speed, strength deficit,
fascicle-length ratio drawn by a scrambled Sobol sequence over ``PROFILE_RANGES``), plus each
profile's uninjured reference at maximal sprint speed. Each drill is one batched evaluation
(:func:`~musclesim.pipeline.evaluate.evaluate_lengths`) over intensity x profile (the "chunk"),
with a progress bar.

:func:`lookup` answers one (drill, intensity, profile, injury phase) query from the file alone:
interpolation in intensity and the tolerance policy, no simulation. :func:`export_html` writes a
self-contained page (no scripts, no external files) with, per drill and intensity, the share of
profiles for which the drill is safe on chosen days after a chosen grade of injury.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.stats import qmc
from tqdm import tqdm

from ..core.errors import InputError
from ..core.io import write_text_atomic
from ..core.version import __version__
from ..muscle import metrics as _metrics
from ..muscle.parameters import MuscleParameters
from ..pipeline.evaluate import evaluate_lengths, mtu_lengths
from .athlete import Athlete, scale_parameters
from .drills import get_drill, load_drills
from .rank import (
    PEAKS,
    RUNNING_DRILL,
    RUNNING_SPEED_RANGE,
    athlete_model,
    drill_coordinates,
    drill_drive,
    intensity_grid,
    reference_size,
)
from .tolerance import policy_summary, tolerance_limit

#: Ranges of the athlete profiles in a table. These are design choices spanning adult
#: field-sport athletes and sprinters, not measurements: height and mass around the reference
#: models (1.74-1.88 m, 75-76 kg, models/subjects/), maximal speeds from recreational to
#: elite (the measured sprinter reached 9.51 m/s, SOURCES.md), strength deficits and
#: fascicle-length ratios covering the values reported after hamstring strain (deficits up to
#: ~30 %, BFlh fascicles ~5-10 % shorter: Timmins et al. 2016, DOI 10.1249/MSS.0000000000000507).
PROFILE_RANGES = {
    "height": (1.60, 2.00),
    "mass": (55.0, 100.0),
    "max_sprint_speed": (7.0, 10.5),
    "strength_deficit": (0.0, 0.3),
    "fascicle_length_ratio": (0.85, 1.0),
}
PROFILE_UNITS = {
    "height": "m",
    "mass": "kg",
    "max_sprint_speed": "m/s",
    "strength_deficit": "1",
    "fascicle_length_ratio": "1",
}


def sample_profiles(base, n: int, *, seed: int = 0) -> list:
    """``n`` athlete profiles: ``base`` (an Athlete) with the fields of ``PROFILE_RANGES``
    drawn by a scrambled Sobol sequence (``scipy.stats.qmc``), seeded."""
    names = list(PROFILE_RANGES)
    unit = qmc.Sobol(d=len(names), scramble=True, seed=seed).random(n)
    lo = np.array([PROFILE_RANGES[k][0] for k in names])
    hi = np.array([PROFILE_RANGES[k][1] for k in names])
    values = lo + unit * (hi - lo)
    return [
        dataclasses.replace(
            base, **{k: float(v) for k, v in zip(names, row, strict=True)}, name=f"profile {i}"
        )
        for i, row in enumerate(values)
    ]


def build_table(
    athlete,
    *,
    model: str = "sprinter_ja1",
    drills=None,
    names=None,
    n_intensities: int = 10,
    n_profiles: int = 50,
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Peak metrics of ``athlete``'s injured muscle over drill x intensity x profile.

    ``athlete`` gives the injured muscle and side (and the grade used by default in lookups);
    its body-size fields are replaced by each profile's.
    """
    library = load_drills() if drills is None else drills
    selected = list(names or library)
    profiles = sample_profiles(athlete, n_profiles, seed=seed)
    am = athlete_model(athlete, model)
    height, mass = reference_size(am.geometry.name)
    params = am.geometry.parameters

    def scaled(p, injured):
        a = (
            p
            if injured
            else dataclasses.replace(p, strength_deficit=None, fascicle_length_ratio=None)
        )
        kw = {"injured_index": 0} if injured else {}
        return scale_parameters(params, a, reference_height=height, reference_mass=mass, **kw)

    injured = MuscleParameters.stack([scaled(p, True) for p in profiles])  # [profile, muscle]
    uninjured = MuscleParameters.stack([scaled(p, False) for p in profiles])
    speeds = np.clip([p.max_sprint_speed for p in profiles], *RUNNING_SPEED_RANGE)
    # MTU lengths scale with stature like the muscle lengths (geometric similarity, the rule of
    # scale_parameters): each motion is evaluated once at the athlete's scale, then scaled from
    # the athlete's stature to each profile's
    relative = np.array([p.height for p in profiles]) / height / am.length_scale  # [profile]
    upright = am.geometry.upright_length * am.length_scale * relative[:, None]  # [profile, muscle]

    def peaks(params_batch, time, lengths, drive):
        """The muscle's peaks, arrays ``[..., profile]``, from MTU lengths ``[..., profile,
        muscle, T]`` (m) and excitation ``[..., profile, T]``."""
        result = evaluate_lengths(
            params_batch, time, lengths, upright, excitation=drive[..., None, :]
        )
        return {k: np.asarray(getattr(result.metrics, k))[..., 0] for k in PEAKS}

    # Reference: each profile's uninjured muscle at its own maximal sprint speed.
    time, q = drill_coordinates(am, RUNNING_DRILL, speeds, drills=library)  # [P, T]
    ref_drive = np.stack(
        [
            drill_drive(am, RUNNING_DRILL, s, time[j], max_speed=float(s), drills=library)
            for j, s in enumerate(speeds)
        ]
    )
    lengths, _ = mtu_lengths(am.geometry, q, length_scale=am.length_scale)  # [P, muscle, T]
    reference = peaks(uninjured, time, lengths * relative[:, None, None], ref_drive)

    shape = (len(selected), n_intensities, n_profiles)
    values = {k: np.full(shape, np.nan) for k in PEAKS}
    intensity = np.full((len(selected), n_intensities), np.nan)
    units = []
    for i, name in enumerate(tqdm(selected, desc="table (drills)", disable=not progress)):
        d = get_drill(name, library)
        grid = intensity_grid(d, n_intensities)
        intensity[i] = grid
        units.append(d.intensity.unit)
        t, q = drill_coordinates(am, d, grid, drills=library)  # [K, T]
        # running templates' amplitude depends on each profile's maximal speed: [K, P, T]
        drive = np.stack(
            [
                [
                    drill_drive(
                        am,
                        d,
                        x,
                        t[k],
                        max_speed=float(min(p.max_sprint_speed, RUNNING_SPEED_RANGE[1])),
                        drills=library,
                    )
                    for p in profiles
                ]
                for k, x in enumerate(grid)
            ]
        )
        lengths, _ = mtu_lengths(am.geometry, q, length_scale=am.length_scale)  # [K, muscle, T]
        at = peaks(injured, t[:, None, :], lengths[:, None] * relative[:, None, None], drive)
        for k in PEAKS:
            values[k][i] = at[k]

    profile_coords = {
        k: ("profile", np.array([getattr(p, k) for p in profiles]), {"units": PROFILE_UNITS[k]})
        for k in PROFILE_RANGES
    }
    ds = xr.Dataset(
        {
            "intensity_value": (("drill", "intensity"), intensity),
            "intensity_unit": ("drill", np.asarray(units, dtype=object)),
            "peak_eccentric_fiber_strain": (
                ("drill", "intensity", "profile"),
                values["peak_eccentric_fiber_strain"],
                {
                    "units": "1",
                    "long_name": "injured muscle, "
                    "largest fibre strain while lengthening and active",
                },
            ),
            "peak_mtu_strain": (
                ("drill", "intensity", "profile"),
                values["peak_mtu_strain"],
                {"units": "1", "long_name": "peak MTU strain"},
            ),
            "peak_force": (
                ("drill", "intensity", "profile"),
                values["peak_force"],
                {"units": "N", "long_name": "peak tendon force"},
            ),
            "reference_peak_eccentric_fiber_strain": (
                "profile",
                reference["peak_eccentric_fiber_strain"],
                {"units": "1", "long_name": "uninjured, at the profile's maximal speed"},
            ),
            "reference_peak_force": ("profile", reference["peak_force"], {"units": "N"}),
        },
        coords={"drill": selected, "profile": np.arange(n_profiles), **profile_coords},
        attrs={
            "musclesim_version": __version__,
            "model": model,
            "model_source_sha256": am.geometry.source_sha256,
            "muscle": am.muscle,
            "athlete_muscle": athlete.muscle,
            "athlete_side": athlete.side,
            "default_grade": athlete.grade,
            "profile_sampling": f"scrambled Sobol, seed {seed}, ranges {PROFILE_RANGES}",
            "activation_threshold": _metrics.DEFAULT_ACTIVATION_THRESHOLD,
            "lengthening_threshold": _metrics.DEFAULT_LENGTHENING_THRESHOLD,
            "samples_per_evaluation": int(time.shape[-1]),
        },
    )
    return ds


def _profile_athlete(table: xr.Dataset, profile: int, grade: str):

    p = table.sel(profile=profile)
    return Athlete(
        height=float(p["height"]),
        mass=float(p["mass"]),
        max_sprint_speed=float(p["max_sprint_speed"]),
        muscle=table.attrs["athlete_muscle"],
        side=table.attrs["athlete_side"],
        grade=grade,
        injury_date=datetime.date(2000, 1, 1),
        strength_deficit=float(p["strength_deficit"]),
        fascicle_length_ratio=float(p["fascicle_length_ratio"]),
        name=f"profile {profile}",
    )


def lookup(
    table: xr.Dataset,
    drill: str,
    intensity: float,
    *,
    profile: int = 0,
    days_since_injury: float,
    grade: str | None = None,
    pain: float = 0.0,
    soreness: float = 0.0,
    policy=None,
) -> dict:
    """Strain, limit, margin and safe-or-not for one query, from the table alone."""

    if drill not in table["drill"].values:
        raise InputError(
            f"unknown drill {drill!r}",
            field="drill",
            expected=f"one of {list(table['drill'].values)}",
        )
    if profile not in table["profile"].values:
        raise InputError(
            f"profile {profile}", field="profile", expected=f"0..{table.sizes['profile'] - 1}"
        )
    row = table.sel(drill=drill, profile=profile)
    grid = row["intensity_value"].values
    if not grid[0] - 1e-9 <= intensity <= grid[-1] + 1e-9:
        raise InputError(
            f"intensity {intensity:g} outside the table for {drill!r}",
            field="intensity",
            expected=f"{grid[0]:g}-{grid[-1]:g} {row['intensity_unit'].values}",
        )
    strain = float(np.interp(intensity, grid, row["peak_eccentric_fiber_strain"].values))
    force = float(np.interp(intensity, grid, row["peak_force"].values))
    mtu = float(np.interp(intensity, grid, row["peak_mtu_strain"].values))
    athlete = _profile_athlete(table, profile, grade or table.attrs["default_grade"])
    limit = tolerance_limit(
        athlete,
        days_since_injury,
        policy=policy,
        pain=pain,
        soreness=soreness,
        reference_strain=float(row["reference_peak_eccentric_fiber_strain"]),
        reference_force=float(row["reference_peak_force"]),
    )
    safe = (not np.isfinite(strain) or strain <= limit.strain) and force <= limit.force
    return {
        "drill": drill,
        "intensity": intensity,
        "intensity_unit": str(row["intensity_unit"].values),
        "peak_eccentric_fiber_strain": strain,
        "peak_mtu_strain": mtu,
        "peak_force": force,
        "limit": limit.strain,
        "force_limit": limit.force,
        "margin": limit.strain - strain if np.isfinite(strain) else float("nan"),
        "safe": bool(safe),
    }


def safe_shares(
    table: xr.Dataset,
    *,
    grade: str | None = None,
    days=(7, 14, 21, 28),
    policy=None,
    pain: float = 0.0,
    soreness: float = 0.0,
) -> xr.DataArray:
    """Share of the table's profiles for which each drill is safe at each of its grid
    intensities on each of ``days`` (dims ``drill``, ``intensity``, ``day``).

    The same decision as :func:`lookup` at every (drill, grid intensity, profile, day), made
    in arrays: the limits are computed once per (profile, day) (they do not depend on the
    drill), the strains and forces are read at the grid nodes with the same ``np.interp`` as
    :func:`lookup`, and "safe" is ``(strain is NaN or strain <= limit) and force <= force
    limit``, as there.
    """

    grade = grade or table.attrs["default_grade"]
    profiles = [int(p) for p in table["profile"].values]
    days = list(days)
    strain_limit = np.empty((len(days), len(profiles)))
    force_limit = np.empty((len(days), len(profiles)))
    ref_strain = table["reference_peak_eccentric_fiber_strain"].sel(profile=profiles).values
    ref_force = table["reference_peak_force"].sel(profile=profiles).values
    for j, p in enumerate(profiles):
        athlete = _profile_athlete(table, p, grade)
        for i, d in enumerate(days):
            limit = tolerance_limit(
                athlete,
                d,
                policy=policy,
                pain=pain,
                soreness=soreness,
                reference_strain=float(ref_strain[j]),
                reference_force=float(ref_force[j]),
            )
            strain_limit[i, j], force_limit[i, j] = limit.strain, limit.force
    order = ("drill", "intensity", "profile")
    ecc = table["peak_eccentric_fiber_strain"].sel(profile=profiles).transpose(*order).values
    force = table["peak_force"].sel(profile=profiles).transpose(*order).values
    grids = table["intensity_value"].transpose("drill", "intensity").values
    at_nodes_ecc = np.empty_like(ecc)
    at_nodes_force = np.empty_like(force)
    for k, grid in enumerate(grids):
        for j in range(len(profiles)):
            # lookup's interpolation at the nodes (NaN next to a node propagates as there)
            at_nodes_ecc[k, :, j] = np.interp(grid, grid, ecc[k, :, j])
            at_nodes_force[k, :, j] = np.interp(grid, grid, force[k, :, j])
    e = at_nodes_ecc[:, :, None, :]  # [drill, intensity, day, profile]
    f = at_nodes_force[:, :, None, :]
    safe = (~np.isfinite(e) | (e <= strain_limit[None, None])) & (f <= force_limit[None, None])
    return xr.DataArray(
        safe.mean(axis=-1),
        dims=("drill", "intensity", "day"),
        coords={"drill": table["drill"].values, "day": days},
        attrs={"units": "1", "long_name": f"share of profiles safe (grade {grade})"},
    )


def export_html(
    table: xr.Dataset,
    path: str | Path,
    *,
    grade: str | None = None,
    days=(7, 14, 21, 28),
    policy=None,
) -> Path:
    """A self-contained HTML page: per drill and intensity, the share of profiles for which
    the drill is safe on each of ``days`` after an injury of ``grade``."""

    grade = grade or table.attrs["default_grade"]
    profiles = table["profile"].values
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>musclesim drill safety</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#eee}.s{background:#d8f0d8}.u{background:#f6d5d5}.m{background:#fff1c9}"
        "pre{background:#f7f7f7;padding:1em;white-space:pre-wrap}</style></head><body>",
        f"<h1>Drill safety: {html.escape(table.attrs['muscle'])}, grade {html.escape(grade)}</h1>",
        f"<p>Share of {len(profiles)} athlete profiles for which the drill at that intensity keeps "
        "the injured muscle's peak eccentric fibre strain and peak force under the day's limit. "
        f"Model {html.escape(table.attrs['model'])}; musclesim "
        f"{html.escape(table.attrs['musclesim_version'])}.</p>",
    ]
    shares = safe_shares(table, grade=grade, days=days, policy=policy)
    for drill in table["drill"].values:
        unit = html.escape(str(table["intensity_unit"].sel(drill=drill).values))
        parts.append(
            f"<h2>{html.escape(str(drill))}</h2><table><tr><th>intensity ({unit})</th>"
            "<th>median ecc. strain</th>" + "".join(f"<th>day {d}</th>" for d in days) + "</tr>"
        )
        grid = table["intensity_value"].sel(drill=drill).values
        for k, x in enumerate(grid):
            strains = (
                table["peak_eccentric_fiber_strain"]
                .sel(drill=drill)
                .sel(intensity=int(np.argmin(np.abs(grid - x))))
                .values
            )
            cells = []
            for share in shares.sel(drill=drill).values[k]:
                cls = "s" if share >= 0.95 else ("u" if share <= 0.05 else "m")
                cells.append(f"<td class='{cls}'>{share * 100:.0f} %</td>")
            median = np.nanmedian(strains) if np.any(np.isfinite(strains)) else float("nan")
            parts.append(f"<tr><td>{x:.3g}</td><td>{median:.3f}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    parts.append(f"<h2>Policy and sources</h2><pre>{html.escape(policy_summary(policy))}</pre>")
    parts.append("</body></html>")
    return write_text_atomic(path, "\n".join(parts))
