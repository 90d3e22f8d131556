"""The plan as a calendar figure (matplotlib, an optional dependency imported when used)."""

from __future__ import annotations

import datetime
from pathlib import Path

from ...core.io import atomic_path
from .types import Plan


def plot_plan_calendar(plan: Plan, path: str | Path) -> Path:
    """A calendar PNG: weeks as rows, weekdays as columns; each day coloured by the largest
    utilisation of its limits among its drills, drills listed (running with its fraction of
    maximal speed), hard sessions outlined, deload weeks shaded, the target return day
    marked. Written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    cmap = matplotlib.colormaps["viridis"]
    fig, ax = plt.subplots(figsize=(14, 1.6 * plan.weeks + 1.2))
    by_date = {s.date: s for s in plan.sessions}
    for week in range(plan.weeks):
        for wd in range(7):
            day = plan.start + datetime.timedelta(days=7 * week + wd)
            x, y = wd, plan.weeks - 1 - week
            s = by_date.get(day)
            deload = s is not None and s.deload_week
            ax.add_patch(
                plt.Rectangle(
                    (x, y), 1, 1, facecolor="0.92" if deload else "white", edgecolor="0.7"
                )
            )
            ax.text(x + 0.03, y + 0.9, day.strftime("%a %d %b"), fontsize=7, va="top")
            if day == plan.full_training_date:
                ax.text(
                    x + 0.97,
                    y + 0.78,
                    "full training",
                    fontsize=7,
                    va="top",
                    ha="right",
                    color="darkgreen",
                )
            if day == plan.target_return_date:
                ax.text(
                    x + 0.97, y + 0.9, "target", fontsize=7, va="top", ha="right", color="crimson"
                )
            if s is None or not s.drills:
                continue
            peak = max(max(d.utilisation.values()) for d in s.drills)
            ax.add_patch(
                plt.Rectangle(
                    (x + 0.02, y + 0.02),
                    0.96,
                    0.72,
                    facecolor=cmap(norm(peak)),
                    alpha=0.35,
                    edgecolor="crimson" if s.hard else "none",
                    linewidth=2 if s.hard else 0,
                )
            )
            text = (
                "\n".join(
                    f"{d.drill[:16]} {d.intensity:.3g} {d.intensity_unit} x{d.dose:g}"
                    + (f" {d.speed_fraction:.0%}" if d.speed_fraction else "")
                    for d in s.drills
                )
                or "rest"
            )
            ax.text(x + 0.04, y + 0.70, text, fontsize=6, va="top")
    ax.set_xlim(0, 7)
    ax.set_ylim(0, plan.weeks)
    ax.set_axis_off()
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(
        sm,
        ax=ax,
        fraction=0.02,
        pad=0.01,
        label="largest utilisation of the day's limits (value / limit)",
    )
    a = plan.athlete
    ax.set_title(
        f"{a.side} {a.muscle} grade {a.grade}: {plan.weeks}-week plan from "
        f"{plan.start} (red outline: hard session; % of maximal speed; grey: deload week)",
        fontsize=9,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
