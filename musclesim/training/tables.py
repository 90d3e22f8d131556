"""Drill-safety lookup tables: drill x intensity x athlete profile, computed once, read fast.

:func:`build_table` evaluates the injured muscle's peak eccentric fibre strain, peak MTU strain,
peak force and tissue-load criteria (:data:`~musclesim.training.criteria.CRITERIA`) for every
drill of the library at ``n_intensities`` intensities spanning its range, for ``n_profiles``
athlete profiles (body size, maximal speed, strength deficit, fascicle-length ratio drawn by a
scrambled Sobol sequence over ``PROFILE_RANGES``), plus each profile's uninjured reference at
maximal sprint speed. Its stages:

1. every drill's motion, MTU lengths and excitation at every intensity (and every profile's
   maximal speed for the running templates), computed once at the athlete's scale;
2. the evaluations stacked into rows (drill x intensity, plus the reference, per profile) and
   cut into tasks of ``PROFILES_PER_TASK`` profiles, each task one batched call of
   :func:`~musclesim.pipeline.evaluate.evaluate_lengths` (the fibre solver's default method);
3. the tasks run here one after the other, or on a ``dask.distributed`` cluster
   (``scheduler=``): the same tasks with the same shapes, so the same numbers, bit for bit;
4. the cells gathered into a Dataset. No cell is NaN: where the fibres never lengthen while
   active the eccentric strain is 0 and ``status`` says so in words.

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

import jax
import numpy as np
import xarray as xr
from scipy.stats import qmc
from tqdm import tqdm

from ..core.errors import InputError
from ..core.io import write_text_atomic
from ..core.version import __version__
from ..muscle import metrics as _metrics
from ..muscle.fiber import PER_MEMBER
from ..muscle.parameters import FIELDS as PARAMETER_FIELDS, MuscleParameters
from ..pipeline.evaluate import check_domain, evaluate_lengths, mtu_lengths
from .athlete import Athlete, scale_parameters
from .criteria import CRITERIA
from .drills import get_drill, load_drills
from .rank import (
    RUNNING_DRILL,
    RUNNING_SPEED_RANGE,
    athlete_model,
    drill_coordinates,
    drill_drive,
    intensity_grid,
    out_of_domain_words,
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
#: Profiles per task: one task evaluates every drill x intensity (and the reference) of this
#: many profiles in one batched solve. It is the unit a dask worker receives and the unit of
#: the progress bar; a task of the full library (21 drills x 10 intensities + 1) holds 1,055
#: fibre solves, about the batch at which the solver's throughput levels off
#: (experiments/benchmark_fiber.py measures batches 1 to 1,024). Every task has this shape
#: (the last is padded by repeating its last profile), so one compiled program serves all,
#: and the table does not depend on where the tasks run.
PROFILES_PER_TASK = 5
#: The peak values a table holds besides the criteria (fields of MuscleMetrics).
PEAK_FIELDS = ("peak_eccentric_fiber_strain", "peak_mtu_strain", "peak_force")
#: Status words of a cell (the ``status`` variable): whether the injured fibres lengthen while
#: active (then ``peak_eccentric_fiber_strain`` is their largest strain), are actively loaded
#: without lengthening (eccentric strain stored as 0), or are never actively loaded.
STATUS_WORDS = (
    "lengthens while active",
    "loaded without active lengthening",
    "does not load the muscle",
)
_FIELDS = tuple(dict.fromkeys((*PEAK_FIELDS, *(c.name for c in CRITERIA), "loads_muscle")))


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


def evaluate_rows(rows: dict, *, x64: bool = True) -> dict[str, np.ndarray]:
    """Metrics of one task's rows: one batched fibre solve and the metrics of every row.

    ``rows`` holds NumPy arrays with a leading row axis ``N``: ``parameters`` (a dict of
    :class:`~musclesim.MuscleParameters` field -> ``[N]``), ``time`` ``[N, T]`` (s),
    ``mtu_length`` ``[N, T]`` (m), ``upright_length`` ``[N]`` (m) and ``excitation``
    ``[N, T]``. Returns ``{field: [N]}`` for the table's fields (``_FIELDS``), as NumPy.
    A pure function of its arguments, so a dask worker computes what this process would;
    ``x64`` is the caller's JAX precision, applied here for the call only (a worker process
    starts in JAX's default 32 bits).
    """
    # Each row with the substeps its own sample spacing needs (a run-time count; one count for
    # the whole task made every row pay the slowest drill's).
    with jax.enable_x64(x64):
        params = MuscleParameters(**{k: v[:, None] for k, v in rows["parameters"].items()})
        result = evaluate_lengths(
            params,
            rows["time"],
            rows["mtu_length"][:, None, :],
            rows["upright_length"][:, None],
            excitation=rows["excitation"][:, None, :],
            substeps=PER_MEMBER,
        )
        return {k: np.asarray(getattr(result.metrics, k))[:, 0] for k in _FIELDS}


def _parameter_fields(params: MuscleParameters) -> dict[str, np.ndarray]:
    """The fields of stacked parameters ``[profile]`` as NumPy arrays."""
    params = params.broadcast()
    return {k: np.asarray(getattr(params, k), dtype=float) for k in PARAMETER_FIELDS}


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
    scheduler=None,
    out_of_domain: str = "warn",
) -> xr.Dataset:
    """Peak metrics and tissue-load criteria of ``athlete``'s injured muscle over drill x
    intensity x profile.

    ``athlete`` gives the injured muscle and side (and the grade used by default in lookups);
    its body-size fields are replaced by each profile's. ``scheduler`` runs the tasks on a
    ``dask.distributed`` cluster: a scheduler address (``"tcp://host:8786"``) or a
    ``distributed.Client``; the table is the one this process computes alone, bit for bit.
    ``progress`` shows a progress bar over the tasks (on stderr). ``out_of_domain``: poses
    outside the geometry's fitted domain are refused (``"refuse"``, naming the drill and
    intensity, before any task runs) or continued from the fitted box (``"warn"``,
    ``"clamp"``) and counted per drill and intensity in the variable ``out_of_domain``.
    """
    library = load_drills() if drills is None else drills
    selected = list(names or library)
    unknown = [n for n in selected if n not in library]
    if unknown:
        raise InputError(
            f"unknown drill(s) {unknown}", field="drills", expected=f"names among {sorted(library)}"
        )
    if n_intensities < 2 or n_profiles < 1:
        raise InputError(
            f"{n_intensities} intensities, {n_profiles} profiles",
            field="n_intensities/n_profiles",
            expected="at least 2 intensities and 1 profile",
        )
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

    injured = MuscleParameters.stack([scaled(p, True)[0] for p in profiles])  # [profile]
    uninjured = MuscleParameters.stack([scaled(p, False)[0] for p in profiles])
    speeds = np.clip([p.max_sprint_speed for p in profiles], *RUNNING_SPEED_RANGE)
    max_speeds = [float(min(p.max_sprint_speed, RUNNING_SPEED_RANGE[1])) for p in profiles]
    # MTU lengths scale with stature like the muscle lengths (geometric similarity, the rule of
    # scale_parameters): each motion is evaluated once at the athlete's scale, then scaled from
    # the athlete's stature to each profile's
    relative = np.array([p.height for p in profiles]) / height / am.length_scale  # [profile]
    upright = float(am.geometry.upright_length[0] * am.length_scale) * relative  # [profile]

    # 1. motions, lengths and excitations, once per drill and intensity (the domain of every
    # motion checked first, so that a refusal comes before any solving)
    n_drills, n_k = len(selected), n_intensities
    intensity = np.empty((n_drills, n_k))
    outside = np.zeros((n_drills, n_k), dtype=int)
    motions = []
    for i, name in enumerate(selected):
        d = get_drill(name, library)
        intensity[i] = intensity_grid(d, n_k)
        t, q = drill_coordinates(am, d, intensity[i], drills=library)  # [K, T]
        labels = [f"{name} at {x:g} {d.intensity.unit}" for x in intensity[i]]
        inside = check_domain(am.geometry, q, out_of_domain=out_of_domain, labels=labels)
        outside[i] = (~inside).sum(axis=(-2, -1))
        motions.append((d, t, q))
    t_ref, q_ref = drill_coordinates(am, RUNNING_DRILL, speeds, drills=library)  # [P, T]
    labels = [f"reference running at {v:g} m/s" for v in speeds]
    n_ref_outside = int(
        (~check_domain(am.geometry, q_ref, out_of_domain=out_of_domain, labels=labels)).sum()
    )
    units, times, lengths, drives = [], [], [], []
    for i, (d, t, q) in enumerate(motions):
        grid = intensity[i]
        units.append(d.intensity.unit)
        length, _ = mtu_lengths(
            am.geometry, q, length_scale=am.length_scale, out_of_domain=out_of_domain
        )  # [K, 1, T]
        times.append(t)
        lengths.append(np.asarray(length)[:, 0])
        # a running template's amplitude depends on each profile's maximal speed
        per_speed = {
            v: np.stack(
                [
                    drill_drive(am, d, x, t[k], max_speed=v, drills=library)
                    for k, x in enumerate(grid)
                ]
            )
            for v in dict.fromkeys(max_speeds)
        }
        drives.append(np.stack([per_speed[v] for v in max_speeds], axis=1))  # [K, P, T]
    time_d = np.stack(times)  # [D, K, T]
    length_d = np.stack(lengths)  # [D, K, T]
    drive_d = np.stack(drives)  # [D, K, P, T]
    length_ref = np.asarray(
        mtu_lengths(am.geometry, q_ref, length_scale=am.length_scale, out_of_domain=out_of_domain)[
            0
        ]
    )
    drive_ref = np.stack(
        [
            drill_drive(am, RUNNING_DRILL, s, t_ref[j], max_speed=float(s), drills=library)
            for j, s in enumerate(speeds)
        ]
    )

    # 2. rows of each task: [profile in task] x (drill x intensity, then the reference)
    inj, uninj = _parameter_fields(injured), _parameter_fields(uninjured)
    n_samples = time_d.shape[-1]
    per_profile = n_drills * n_k + 1

    def task_rows(members):
        time = np.empty((len(members), per_profile, n_samples))
        length = np.empty_like(time)
        drive = np.empty_like(time)
        for m, p in enumerate(members):
            time[m, :-1] = time_d.reshape(-1, n_samples)
            length[m, :-1] = length_d.reshape(-1, n_samples) * relative[p]
            drive[m, :-1] = drive_d[:, :, p].reshape(-1, n_samples)
            time[m, -1], length[m, -1] = t_ref[p], length_ref[p, 0] * relative[p]
            drive[m, -1] = drive_ref[p]
        members = np.asarray(members)
        injured_row = np.arange(per_profile) < per_profile - 1
        return {
            "parameters": {
                k: np.where(injured_row, inj[k][members, None], uninj[k][members, None]).ravel()
                for k in inj
            },
            "time": time.reshape(-1, n_samples),
            "mtu_length": length.reshape(-1, n_samples),
            "upright_length": np.repeat(upright[members], per_profile),
            "excitation": drive.reshape(-1, n_samples),
        }

    starts = range(0, n_profiles, PROFILES_PER_TASK)
    tasks = [[min(s + j, n_profiles - 1) for j in range(PROFILES_PER_TASK)] for s in starts]

    # 3. the tasks, here or on a cluster
    x64 = bool(jax.config.jax_enable_x64)
    results = _run_tasks(
        [task_rows(members) for members in tasks], x64=x64, scheduler=scheduler, progress=progress
    )

    # 4. the cells
    cells = {k: np.empty((n_drills, n_k, n_profiles)) for k in _FIELDS}
    reference = {k: np.empty(n_profiles) for k in _FIELDS}
    for members, out in zip(tasks, results, strict=True):
        for k in _FIELDS:
            block = out[k].reshape(PROFILES_PER_TASK, per_profile)
            for m, p in enumerate(members):
                cells[k][:, :, p] = block[m, :-1].reshape(n_drills, n_k)
                reference[k][p] = block[m, -1]
    table = _to_dataset(
        cells,
        reference,
        selected=selected,
        intensity=intensity,
        units=units,
        profiles=profiles,
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
            "active_force_fraction": _metrics.ACTIVE_FORCE_FRACTION,
            "samples_per_evaluation": int(n_samples),
            "profiles_per_task": PROFILES_PER_TASK,
            "out_of_domain_policy": out_of_domain,
            "out_of_domain": out_of_domain_words(
                out_of_domain, int(outside.sum()) + n_ref_outside, outside.size + len(speeds)
            ),
        },
    )
    table["out_of_domain"] = (
        ("drill", "intensity"),
        outside,
        {"long_name": "samples of the motion outside the fitted geometry (clamped onto its box)"},
    )
    return table


def _run_tasks(rows: list[dict], *, x64: bool, scheduler, progress: bool) -> list[dict]:
    """:func:`evaluate_rows` of every task, in order: here, or on the dask cluster that
    ``scheduler`` names (an address or a ``distributed.Client``)."""
    bar = tqdm(total=len(rows), desc="table", unit="task", disable=not progress)
    if scheduler is None:
        results = []
        for r in rows:
            results.append(evaluate_rows(r, x64=x64))
            bar.update()
        bar.close()
        return results
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:  # an optional dependency of this one path
        raise InputError(
            "dask.distributed is not installed",
            field="scheduler",
            expected="`pip install dask[distributed]` on this machine and the workers",
        ) from exc
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler) if own else scheduler
    except (OSError, ValueError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the dask scheduler {scheduler!r} ({exc})",
            field="scheduler",
            expected="the address a running dask scheduler prints, e.g. tcp://host:8786",
        ) from exc
    try:
        futures = [
            client.submit(evaluate_rows, r, x64=x64, pure=False, key=f"musclesim-table-{i}")
            for i, r in enumerate(rows)
        ]
        for _ in as_completed(futures):
            bar.update()
        results = client.gather(futures)
    finally:
        bar.close()
        if own:
            client.close()
    return results


def _to_dataset(cells, reference, *, selected, intensity, units, profiles, attrs) -> xr.Dataset:
    """The table as a Dataset: every cell a number, or a word in ``status``."""
    dims = ("drill", "intensity", "profile")
    ecc = cells["peak_eccentric_fiber_strain"]
    lengthens = np.isfinite(ecc)
    loads = cells["loads_muscle"].astype(bool)
    status = np.where(
        lengthens, STATUS_WORDS[0], np.where(loads, STATUS_WORDS[1], STATUS_WORDS[2])
    ).astype(object)
    data = {
        "intensity_value": (("drill", "intensity"), intensity),
        "intensity_unit": ("drill", np.asarray(units, dtype=object)),
        "status": (
            dims,
            status,
            {"long_name": "what the injured muscle does", "values": "; ".join(STATUS_WORDS)},
        ),
        "peak_eccentric_fiber_strain": (
            dims,
            np.where(lengthens, ecc, 0.0),
            {
                "units": "1",
                "long_name": "injured muscle, largest fibre strain while lengthening and active "
                f"(0 where status is not '{STATUS_WORDS[0]}')",
            },
        ),
        "peak_mtu_strain": (
            dims,
            cells["peak_mtu_strain"],
            {"units": "1", "long_name": "peak MTU strain"},
        ),
    }
    for c in CRITERIA:
        data[c.name] = (dims, cells[c.name], {"units": c.unit, "long_name": c.long_name})
    data["peak_force"] = (
        dims,
        cells["peak_force"],
        {"units": "N", "long_name": "peak tendon force"},
    )
    data["loads_muscle"] = (
        dims,
        loads,
        {"long_name": f"active fibre force reaches {_metrics.ACTIVE_FORCE_FRACTION:g} F_max"},
    )
    ref_ecc = reference["peak_eccentric_fiber_strain"]
    if not np.all(np.isfinite(ref_ecc)):
        raise InputError(
            "the uninjured muscle never lengthens while active at maximal speed",
            field="reference",
            expected="a running drill that stretches the injured muscle while it is active",
        )
    data["reference_peak_eccentric_fiber_strain"] = (
        "profile",
        ref_ecc,
        {"units": "1", "long_name": "uninjured, at the profile's maximal speed"},
    )
    data["reference_peak_force"] = ("profile", reference["peak_force"], {"units": "N"})
    profile_coords = {
        k: ("profile", np.array([getattr(p, k) for p in profiles]), {"units": PROFILE_UNITS[k]})
        for k in PROFILE_RANGES
    }
    return xr.Dataset(
        data,
        coords={"drill": selected, "profile": np.arange(len(profiles)), **profile_coords},
        attrs=attrs,
    )


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
    strain, lengthens = _eccentric_at(row, intensity)
    force = float(np.interp(intensity, grid, row["peak_force"].values))
    mtu = float(np.interp(intensity, grid, row["peak_mtu_strain"].values))
    status = str(row["status"].values[_nearest(grid, intensity)])
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
    safe = (not lengthens or strain <= limit.strain) and force <= limit.force
    answer = {
        "drill": drill,
        "intensity": intensity,
        "intensity_unit": str(row["intensity_unit"].values),
        "status": status,
        "peak_eccentric_fiber_strain": strain if lengthens else None,
        "peak_mtu_strain": mtu,
        "peak_force": force,
        "limit": limit.strain,
        "force_limit": limit.force,
        "margin": limit.strain - strain if lengthens else None,
        "safe": bool(safe),
    }
    for c in CRITERIA:
        if c.name in row and c.name not in answer:
            answer[c.name] = float(np.interp(intensity, grid, row[c.name].values))
    return answer


def _nearest(grid, x) -> int:
    """Index of the grid node nearest ``x``."""
    return int(np.argmin(np.abs(np.asarray(grid) - x)))


def _eccentric_at(row, x) -> tuple[float, bool]:
    """(peak eccentric fibre strain, whether the fibres lengthen while active) of one
    (drill, profile) row of a table at intensity ``x``: linear between the two grid nodes
    around ``x`` where the fibres lengthen at both; the value of the one that lengthens where
    only one does (the defined strain, not a blend with the 0 stored for the other); not
    lengthening where neither does. At a node: the node's own value and status."""
    grid = row["intensity_value"].values
    ecc = row["peak_eccentric_fiber_strain"].values
    lengthens = row["status"].values == STATUS_WORDS[0]
    hi = int(np.clip(np.searchsorted(grid, x), 0, len(grid) - 1))
    lo = max(hi - 1, 0)
    for node in (lo, hi):
        if abs(grid[node] - x) <= 1e-12 * max(1.0, abs(x)):
            return float(ecc[node]), bool(lengthens[node])
    if lengthens[lo] and lengthens[hi]:
        return float(np.interp(x, grid[lo : hi + 1], ecc[lo : hi + 1])), True
    if lengthens[lo] or lengthens[hi]:
        return float(ecc[lo] if lengthens[lo] else ecc[hi]), True
    return 0.0, False


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
    drill), the strains, statuses and forces are read at the grid nodes as :func:`lookup` reads
    them there, and "safe" is ``(the fibres do not lengthen while active or strain <= limit)
    and force <= force limit``, as there.
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
    lengthens = table["status"].sel(profile=profiles).transpose(*order).values == STATUS_WORDS[0]
    force = table["peak_force"].sel(profile=profiles).transpose(*order).values
    # lookup's decision at each grid node: the node's own strain, status and force
    e = ecc[:, :, None, :]  # [drill, intensity, day, profile]
    f = force[:, :, None, :]
    ok_strain = ~lengthens[:, :, None, :] | (e <= strain_limit[None, None])
    safe = ok_strain & (f <= force_limit[None, None])
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
    if "out_of_domain" in table.attrs:  # a table built elsewhere need not carry it
        parts.append(f"<p>Geometry: {html.escape(str(table.attrs['out_of_domain']))}.</p>")
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
            statuses = table["status"].sel(drill=drill).values[k]
            lengthening = strains[statuses == STATUS_WORDS[0]]
            median = (
                f"{np.median(lengthening):.3f}" if lengthening.size else "no active lengthening"
            )
            parts.append(f"<tr><td>{x:.3g}</td><td>{median}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    parts.append(f"<h2>Policy and sources</h2><pre>{html.escape(policy_summary(policy))}</pre>")
    parts.append("</body></html>")
    return write_text_atomic(path, "\n".join(parts))
