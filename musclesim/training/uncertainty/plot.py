"""Figure of :func:`~.montecarlo.rank_uncertainty`: per drill, the distribution of its binding
criterion's utilisation of today's limit (violin, with the median and the central 90 %), against
the limit at 100 %, with P(exceed) beside it. Written atomically; what the figure shows and
where it came from (athlete, day, samples, seed, uncertainty model, musclesim version) go into
the PNG's text metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ...core.io import atomic_path
from .montecarlo import UNCERTAIN_STATUSES

#: Violin colour per status (:data:`~.montecarlo.UNCERTAIN_STATUSES` order).
STATUS_COLOURS = ("tab:green", "tab:red", "tab:grey")
#: Utilisations are drawn up to this (a sample far over its limit is drawn at it).
SHOWN_MAX = 3.0


def provenance(ds: xr.Dataset) -> dict[str, str]:
    """PNG text metadata of the uncertainty figure of ``ds``."""
    a = ds.attrs
    return {
        "Title": f"utilisation distributions of {a.get('muscle', '')}, {a.get('athlete', '')}",
        "Source": (
            f"model {a.get('model', '')}; day {a.get('day', '')}; pain {a.get('pain', '')}; "
            f"{a.get('samples', '')} samples, seed {a.get('seed', '')}"
        ),
        "Description": (
            f"{a.get('confidence_rule', '')}; limits: {a.get('limit_rule', '')}; "
            f"{a.get('uncertainty_model', '')}; references {a.get('references', '')}"
        ),
        "Software": f"musclesim {a.get('musclesim_version', '')}",
    }


def plot_uncertainty(ds: xr.Dataset, out: str | Path) -> Path:
    """Write the figure (module docstring) of a :func:`~.montecarlo.rank_uncertainty` result
    to ``out`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [str(d) for d in ds["drill"].values]
    k = len(names)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * k + 1.9))
    rows = []
    for i, name in enumerate(names):
        r = ds.isel(drill=i)
        b = str(r["binding_criterion"].values)
        u = np.asarray(r["utilisation_samples"].sel(criterion=b).values, dtype=float)
        rows.append((name, b, np.minimum(u, SHOWN_MAX) * 100, r))
    positions = np.arange(k)[::-1]
    for y, (_, b, shown, r) in zip(positions, rows, strict=True):
        colour = STATUS_COLOURS[UNCERTAIN_STATUSES.index(str(r["status"].values))]
        if np.ptp(shown) > 0:
            parts = ax.violinplot(
                shown, positions=[y], orientation="horizontal", widths=0.8, showextrema=False
            )
            for body in parts["bodies"]:
                body.set_facecolor(colour)
                body.set_alpha(0.55)
        lo, med, hi = np.quantile(shown, [0.05, 0.5, 0.95], method="inverted_cdf")
        ax.plot([lo, hi], [y, y], color="k", lw=1.2)
        ax.plot([med], [y], "o", color="k", ms=3)
        p = float(r["exceedance_probability"].sel(criterion=b))
        ax.text(
            SHOWN_MAX * 100 + 8,
            y,
            f"{b}  P(>limit) {p:.0%}",
            va="center",
            fontsize=7,
            clip_on=False,
        )
    ax.axvline(100, color="k", ls="--", lw=1)
    ax.set_yticks(positions, [r[0] for r in rows], fontsize=8)
    ax.set_xlim(0, SHOWN_MAX * 100 + 150)
    ax.axvline(SHOWN_MAX * 100, color="0.6", lw=0.8)
    ax.set_xticks(np.arange(0, SHOWN_MAX * 100 + 1, 50))
    ax.set_xlabel(
        "binding criterion's utilisation of today's limit (%), each sample against the limit "
        "from its own reference\n"
        f"bar: central 90 %, dot: median; samples above {SHOWN_MAX * 100:.0f} % drawn at it",
        fontsize=8,
    )
    a = ds.attrs
    ax.set_title(
        f"{a.get('athlete', '')} · {a.get('day', '')} · {a.get('samples', '')} samples · "
        f"{a.get('confidence_rule', '')}",
        fontsize=8,
    )
    ax.legend(
        handles=[
            Patch(color=c, alpha=0.55, label=s)
            for c, s in zip(STATUS_COLOURS, UNCERTAIN_STATUSES, strict=True)
        ],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 if k < 6 else -0.08),
        ncol=3,
    )
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=provenance(ds))
    plt.close(fig)
    return Path(out)
