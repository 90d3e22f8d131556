"""``musclesim rank``: today's drill ranking for an athlete (table, CSV, PNG)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from ..core.io import atomic_path, check_output
from ..training.athlete import load_athlete
from ..training.rank import rank_drills, ranking_table, write_ranking_csv


def plot_ranking(ds, path: Path) -> Path:
    """Horizontal bars of each drill's peak eccentric fibre strain against today's limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(np.nan_to_num(ds["peak_eccentric_fiber_strain"].values, nan=-1.0))
    names = [str(ds["drill"].values[i]) for i in order]
    strain = ds["peak_eccentric_fiber_strain"].values[order]
    safe = ds["safe"].values[order]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    colors = ["tab:green" if s else "tab:red" for s in safe]
    ax.barh(names, np.nan_to_num(strain) * 100, color=colors)
    limit = float(ds["limit"].values[0]) * 100
    ax.axvline(limit, color="k", ls="--", label=f"today's limit {limit:.1f} %")
    ref = float(ds.attrs["reference_peak_eccentric_fiber_strain"]) * 100
    ax.axvline(ref, color="grey", ls=":", label=f"uninjured, max sprint {ref:.1f} %")
    ax.set_xlabel(
        f"peak eccentric fibre strain of {ds.attrs['muscle']} at the default intensity (%)"
    )
    ax.set_title(
        f"{ds.attrs['athlete']} · day {ds.attrs['days_since_injury']} after injury "
        f"· pain {ds.attrs['pain']:g}/10",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def run_rank(args) -> int:

    day = datetime.date.fromisoformat(args.date) if args.date else datetime.date.today()
    if args.out:
        for out in (Path(args.out), Path(args.out).with_suffix(".png")):
            check_output(out, inputs=[args.athlete, args.model])
    athlete = load_athlete(args.athlete, today=day)
    ds = rank_drills(
        athlete,
        day=day,
        pain=args.pain,
        soreness=args.soreness,
        model=args.model,
        names=args.drills,
        with_max_safe=not args.no_max_safe,
    )
    print(ranking_table(ds))
    print()
    print(ds.attrs["policy"])
    if args.out:
        csv = write_ranking_csv(ds, args.out)
        png = plot_ranking(ds, Path(args.out).with_suffix(".png"))
        print(f"wrote {csv} and {png}")
    return 0


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser("rank", help="rank drills for an athlete on a given day")
    parser.add_argument("--athlete", required=True, type=Path, help="athlete TOML file")
    parser.add_argument("--date", help="day to plan for (YYYY-MM-DD; default today)")
    parser.add_argument("--pain", type=float, default=0.0, help="today's pain, 0-10")
    parser.add_argument("--soreness", type=float, default=0.0, help="today's soreness, 0-10")
    parser.add_argument("--model", default="sprinter_ja1", help="shipped model name or file")
    parser.add_argument("--drills", nargs="*", help="only these drills")
    parser.add_argument(
        "--no-max-safe",
        action="store_true",
        help="skip the maximal-safe-intensity root finding (faster)",
    )
    parser.add_argument("--out", type=Path, help="CSV path (a PNG chart is written beside it)")
    parser.set_defaults(func=run_rank)
