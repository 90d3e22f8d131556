"""Figures of simulation results (matplotlib, written atomically).

:func:`plot_result` draws, per muscle, MTU strain, fibre strain and tendon force against time,
with the stance phases of the muscle's own foot shaded and the peaks marked. Units and labels
come from the Dataset's ``units``/``long_name`` attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..core.io import atomic_path

PANELS = ("mtu_strain", "fiber_strain", "tendon_force")
PEAK_OF = {
    "mtu_strain": "peak_mtu_strain",
    "fiber_strain": "peak_eccentric_fiber_strain",
    "tendon_force": "peak_force",
}


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


def plot_result(ds: xr.Dataset, out: str | Path, *, muscles=None) -> Path:
    """Write a PNG of a :func:`~musclesim.simulate` result; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(muscles or ds["muscle"].values)
    time = ds["time"].values
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(10, 2.6 * len(PANELS)), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, var in zip(axes, PANELS, strict=True):
        scale = 100.0 if ds[var].attrs.get("units") == "1" else 1.0
        for i, name in enumerate(names):
            color = colors[i % len(colors)]
            series = ds[var].sel(muscle=name).values * scale
            ax.plot(time, series, color=color, lw=1.2, label=name)
            peak = float(ds[PEAK_OF[var]].sel(muscle=name).values)
            if np.isfinite(peak):
                k = int(np.nanargmin(np.abs(ds[var].sel(muscle=name).values - peak)))
                ax.plot(time[k], series[k], "v", color=color, ms=7)
        units = "%" if scale == 100.0 else ds[var].attrs.get("units", "")
        ax.set_ylabel(f"{ds[var].attrs.get('long_name', var)}\n({units})", fontsize=8)
        sides = sorted({n[-1] for n in names if n[-2:] in ("_r", "_l")})
        for side, hatch_alpha in zip(sides, (0.12, 0.06), strict=False):
            for a, b in _stance_intervals(ds, side):
                ax.axvspan(a, b, color="grey", alpha=hatch_alpha, lw=0)
    axes[0].legend(fontsize=7, ncol=4, loc="upper right")
    axes[-1].set_xlabel("time (s); grey: stance (darker right foot), ▼ peaks")
    title = f"{ds.attrs.get('model_name', '')} · {Path(ds.attrs.get('motion_source', '')).name}"
    fig.suptitle(title + f" · excitation {ds.attrs.get('excitation', '')}", fontsize=9)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(out)
