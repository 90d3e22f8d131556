"""Figures of simulation results (matplotlib, written atomically).

:func:`plot_result` draws one column per muscle group and leg (hamstrings right, hamstrings
left, calf right, ...) and one row per quantity (MTU strain, fibre strain, tendon force). When
the result holds gait events, each curve is the mean ± 1 SD over the complete gait cycles of
the muscle's own leg, against the cycle (0 % = foot strike), with the mean stance shaded;
without them, the curves run against time with each stance shaded. Every muscle keeps one
colour in every panel (the same muscle of both legs shares it). The reference of each strain is
drawn: 0 is the upright-pose MTU length for ``mtu_strain`` and the optimal fibre length for
``fiber_strain``. Units and labels come from the Dataset's ``units``/``long_name`` attributes;
the figure's provenance (model and motion with their sha256, excitation, musclesim version)
goes into the PNG's text metadata, where it is never cut off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..core.groups import canonical_name
from ..core.io import atomic_path

PANELS = ("mtu_strain", "fiber_strain", "tendon_force")

#: The value each quantity is measured from, drawn as a reference line (label, value).
REFERENCE = {
    "mtu_strain": ("upright-pose length", 0.0),
    "fiber_strain": ("optimal fibre length", 0.0),
}

#: Gait-cycle grid (%) on which every complete cycle is resampled before mean and SD.
CYCLE_GRID = np.linspace(0.0, 100.0, 101)

#: A stretch of samples counts as a complete cycle when its phase runs from at most this (%)
#: to at least 100 minus this, so a cycle cut by the record's ends is left out.
CYCLE_EDGE_PERCENT = 5.0

_GROUP_OF = {
    "bflh": "hamstrings",
    "bfsh": "hamstrings",
    "semiten": "hamstrings",
    "semimem": "hamstrings",
    "bifemlh": "hamstrings",
    "bifemsh": "hamstrings",
    "gasmed": "calf",
    "gaslat": "calf",
    "med_gas": "calf",
    "lat_gas": "calf",
    "soleus": "calf",
}


def _side(name: str) -> str | None:
    return name[-1] if name[-2:] in ("_r", "_l") else None


def _group(name: str) -> str:
    base = name[:-2] if _side(name) else name
    for key in (base, canonical_name(name)):
        if key in _GROUP_OF:
            return _GROUP_OF[key]
    return "other"


def _stance_intervals(ds: xr.Dataset, side: str) -> list[tuple[float, float]]:
    key = f"stance_{side}"
    if key not in ds:
        return []
    time = ds["time"].values
    mask = ds[key].values.astype(bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [
        (time[a], time[min(b, len(time) - 1)]) for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def cycles_of(ds: xr.Dataset, side: str) -> list[np.ndarray]:
    """Sample indices of each complete gait cycle of ``side`` (from ``phase_<side>``), with
    the sample of the foot strike that closes it where the record has one."""
    key = f"phase_{side}"
    if key not in ds:
        return []
    phase = ds[key].values
    finite = np.isfinite(phase)
    breaks = np.flatnonzero(~finite[1:] | ~finite[:-1] | (np.diff(phase) < 0)) + 1
    out = []
    for run in np.split(np.arange(phase.size), breaks):
        run = run[finite[run]]
        if run.size > 2 and (
            phase[run[0]] <= CYCLE_EDGE_PERCENT and phase[run[-1]] >= 100 - CYCLE_EDGE_PERCENT
        ):
            after = run[-1] + 1
            if after < phase.size and phase[after] == 0.0:  # the next foot strike closes it
                run = np.append(run, after)
            out.append(run)
    return out


def cycle_mean_sd(
    ds: xr.Dataset, var: str, muscle: str, cycles: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof 0) of ``var`` of ``muscle`` over ``cycles``, on :data:`CYCLE_GRID`."""
    side = _side(muscle)
    phase = ds[f"phase_{side}"].values
    values = ds[var].sel(muscle=muscle).values
    rows = []
    for c in cycles:
        p = phase[c].copy()
        if p[-1] < p[-2]:
            p[-1] = 100.0  # the closing foot strike, phase 0 of the next cycle
        rows.append(np.interp(CYCLE_GRID, p, values[c]))
    stack = np.stack(rows)
    return stack.mean(axis=0), stack.std(axis=0)


def _mean_toe_off(ds: xr.Dataset, side: str, cycles: list[np.ndarray]) -> float | None:
    key = f"stance_{side}"
    if key not in ds or not cycles:
        return None
    phase = ds[f"phase_{side}"].values
    stance = ds[key].values.astype(bool)
    toe_offs = []
    for c in cycles:
        off = np.flatnonzero(~stance[c])
        if off.size:
            toe_offs.append(phase[c][off[0]])
    return float(np.mean(toe_offs)) if toe_offs else None


def provenance(ds: xr.Dataset) -> dict[str, str]:
    """PNG text metadata of a figure of ``ds``: what it shows and where it came from."""
    motion = Path(str(ds.attrs.get("motion_source", ""))).name
    a = ds.attrs
    return {
        "Title": f"{ds.attrs.get('model_name', '')} along {motion}",
        "Source": (
            f"model {a.get('model_name', '')} ({a.get('model_source', '')}, sha256 "
            f"{a.get('model_source_sha256', '')}); motion {a.get('motion_source', '')}"
            f" (sha256 {a.get('motion_sha256', '')})"
        ),
        "Description": (
            f"excitation {ds.attrs.get('excitation', '')}; tendon {ds.attrs.get('tendon', '')}; "
            f"gait events {ds.attrs.get('gait_events', '')}"
        ),
        "Software": f"musclesim {ds.attrs.get('musclesim_version', '')}",
    }


def plot_result(ds: xr.Dataset, out: str | Path, *, muscles=None) -> Path:
    """Write a PNG of a :func:`~musclesim.simulate` result (layout in the module docstring);
    returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [str(n) for n in (muscles or ds["muscle"].values)]
    columns: dict[tuple[str, str | None], list[str]] = {}
    for name in names:
        columns.setdefault((_group(name), _side(name)), []).append(name)
    order = list(dict.fromkeys(k[0] for k in columns))  # groups in the order of the muscles
    keys = sorted(columns, key=lambda k: (order.index(k[0]), k[1] != "r", k[1] or ""))
    palette = plt.get_cmap("tab10").colors
    bases = list(dict.fromkeys(n[:-2] if _side(n) else n for n in names))
    color = {b: palette[i % len(palette)] for i, b in enumerate(bases)}
    fig, axes = plt.subplots(
        len(PANELS),
        len(keys),
        figsize=(3.4 * len(keys) + 0.8, 2.4 * len(PANELS) + 0.6),
        sharex="col",
        squeeze=False,
    )
    time = ds["time"].values
    for col, key in enumerate(keys):
        group, side = key
        cycles = cycles_of(ds, side) if side else []
        for row, var in enumerate(PANELS):
            ax = axes[row, col]
            scale = 100.0 if ds[var].attrs.get("units") == "1" else 1.0
            for name in columns[key]:
                c = color[name[:-2] if side else name]
                if cycles:
                    mean, sd = cycle_mean_sd(ds, var, name, cycles)
                    ax.plot(CYCLE_GRID, mean * scale, color=c, lw=1.4, label=name)
                    ax.fill_between(
                        CYCLE_GRID, (mean - sd) * scale, (mean + sd) * scale, color=c, alpha=0.2
                    )
                else:
                    ax.plot(time, ds[var].sel(muscle=name).values * scale, color=c, lw=1.2)
                    ax.lines[-1].set_label(name)
            if cycles:
                toe_off = _mean_toe_off(ds, side, cycles)
                if toe_off is not None:
                    ax.axvspan(0.0, toe_off, color="grey", alpha=0.15, lw=0)
                ax.set_xlim(0, 100)
            elif side:
                for a, b in _stance_intervals(ds, side):
                    ax.axvspan(a, b, color="grey", alpha=0.15, lw=0)
            if var in REFERENCE:
                label, value = REFERENCE[var]
                ax.axhline(value * scale, color="k", lw=0.8, ls="--")
                ax.annotate(
                    label,
                    (0.01, value * scale),
                    xycoords=("axes fraction", "data"),
                    fontsize=6,
                    va="bottom",
                )
            if col == 0:
                units = "%" if scale == 100.0 else ds[var].attrs.get("units", "")
                ax.set_ylabel(f"{ds[var].attrs.get('long_name', var)}\n({units})", fontsize=8)
            ax.tick_params(labelsize=7)
            if row == 0:
                leg = {"r": "right", "l": "left", None: ""}[side]
                n = (
                    f", mean ± SD of {len(cycles)} cycles"
                    if len(cycles) > 1
                    else (", 1 cycle (no SD)" if cycles else "")
                )
                ax.set_title(f"{group} {leg}{n}", fontsize=9)
                ax.legend(fontsize=7, loc="best")
            if row == len(PANELS) - 1:
                ax.set_xlabel(
                    "gait cycle (%, 0 = foot strike); grey: stance"
                    if cycles
                    else "time (s); grey: stance",
                    fontsize=8,
                )
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=provenance(ds))
    plt.close(fig)
    return Path(out)
