"""``musclesim rank``: today's drill ranking for an athlete (table, CSV, PNG): each drill's
status, binding criterion, every criterion's utilisation of today's limit and how to regress
it."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from ..core.io import atomic_path, check_output
from ..training.athlete import load_athlete
from ..training.criteria import CRITERION_NAMES
from ..training.rank import STATUSES, rank_drills, ranking_table, write_ranking_csv
from . import uncertainty as uncertainty_cli
from .simulate import add_out_of_domain_argument

#: Bar colour per status (rank.STATUSES order).
STATUS_COLOURS = ("tab:green", "tab:olive", "tab:red", "tab:grey")


def plot_ranking(ds, path: Path) -> Path:
    """Horizontal bars of each drill's binding utilisation (% of today's limit) at the default
    settings, coloured by status and labelled with the binding criterion; the limit at 100 %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [str(d) for d in ds["drill"].values][::-1]
    status = [str(s) for s in ds["status"].values][::-1]
    binding = [str(b) for b in ds["binding_criterion"].values][::-1]
    used = np.max(np.stack([ds[f"utilisation_{c}"].values for c in CRITERION_NAMES]), axis=0)[::-1]
    shown = np.minimum(used, 5.0) * 100  # a drill far over the limit is drawn at 500 %
    fig, ax = plt.subplots(figsize=(8.5, 0.35 * len(names) + 1.8))
    colours = [STATUS_COLOURS[STATUSES.index(s)] for s in status]
    ax.barh(names, shown, color=colours)
    for y, (x, b, s, u) in enumerate(zip(shown, binding, status, used, strict=True)):
        label = "-" if s == STATUSES[3] else f"{b} {u:.0%}"
        ax.text(x + 3, y, label, va="center", fontsize=7)
    ax.axvline(100, color="k", ls="--", lw=1)
    ax.set_xlabel(
        f"largest criterion utilisation of {ds.attrs['muscle']} at the default settings "
        "(% of today's limit; the binding criterion named)"
    )
    ax.set_title(
        f"{ds.attrs['athlete']} · day {ds.attrs['days_since_injury']} after injury "
        f"· pain {ds.attrs['pain']:g}/10",
        fontsize=9,
    )
    ax.legend(
        handles=[Patch(color=c, label=s) for c, s in zip(STATUS_COLOURS, STATUSES, strict=True)],
        fontsize=7,
        loc="lower right",
    )
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
    uncertainty_cli.check_outputs(args)
    # read as of the calendar day: an assessment after the ranking day is allowed (today's
    # limits take the latest one on or before it)
    athlete = load_athlete(args.athlete)
    ds = rank_drills(
        athlete,
        day=day,
        pain=args.pain,
        soreness=args.soreness,
        model=args.model,
        names=args.drills,
        with_max_safe=not args.no_max_safe,
        out_of_domain=args.out_of_domain,
    )
    print(ranking_table(ds))
    print(f"geometry: {ds.attrs['out_of_domain']}")
    print()
    print(ds.attrs["policy"])
    if args.out:
        csv = write_ranking_csv(ds, args.out)
        png = plot_ranking(ds, Path(args.out).with_suffix(".png"))
        print(f"wrote {csv} and {png}")
    uncertainty_cli.run_uncertainty(args, athlete, ds, day)
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
    add_out_of_domain_argument(parser)
    parser.add_argument("--out", type=Path, help="CSV path (a PNG chart is written beside it)")
    uncertainty_cli.add_arguments(parser)
    parser.set_defaults(func=run_rank)
