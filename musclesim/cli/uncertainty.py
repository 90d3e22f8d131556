"""The Monte Carlo options of ``musclesim rank`` (``--uncertainty N`` and its settings) and what
the command does with them after ranking: how sure each drill's verdict is (P(exceed), 90 %
intervals, a status under a stated maximal exceedance probability), printed, and written as CSV
and PNG beside the ranking's ``--out``."""

from __future__ import annotations

from pathlib import Path

from ..core.io import check_output
from ..training.uncertainty.model import load_uncertainty
from ..training.uncertainty.montecarlo import (
    DEFAULT_MAX_EXCEEDANCE,
    rank_uncertainty,
    uncertainty_table,
    write_uncertainty_csv,
)
from ..training.uncertainty.plot import plot_uncertainty


def add_arguments(parser) -> None:
    """Add ``--uncertainty``, ``--max-exceedance``, ``--uncertainty-model`` and ``--seed``."""
    group = parser.add_argument_group("uncertainty (Monte Carlo)")
    group.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="N",
        help="also run N Monte Carlo samples of muscle parameters, joint angles and excitation "
        "per drill: P(exceed today's limit) and 90 %% intervals per criterion (0: off)",
    )
    group.add_argument(
        "--max-exceedance",
        type=float,
        default=DEFAULT_MAX_EXCEEDANCE,
        metavar="P",
        help="a drill is admissible at the stated confidence only if P(any criterion over "
        "its limit) <= P (default %(default)g, i.e. 90 %% confidence)",
    )
    group.add_argument(
        "--uncertainty-model",
        type=Path,
        metavar="FILE",
        help="TOML overriding entries of the default uncertainty model",
    )
    group.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")


def output_paths(out: Path) -> tuple[Path, Path]:
    """The CSV and PNG the Monte Carlo writes beside the ranking's ``out``."""
    stem = out.with_suffix("")
    return (
        stem.with_name(stem.name + "_uncertainty.csv"),
        stem.with_name(stem.name + "_uncertainty.png"),
    )


def check_outputs(args) -> None:
    """Refuse unwritable outputs and a bad model file before the ranking runs."""
    if not args.uncertainty:
        return
    load_uncertainty(args.uncertainty_model)
    if args.out:
        for path in output_paths(Path(args.out)):
            check_output(path, inputs=[args.athlete, args.uncertainty_model])


def run_uncertainty(args, athlete, ranking, day) -> None:
    """After ranking: the Monte Carlo of every ranked drill (when ``--uncertainty N``),
    printed, and written beside ``--out`` when given."""
    if not args.uncertainty:
        return
    ds = rank_uncertainty(
        athlete,
        day=day,
        ranking=ranking,
        n=args.uncertainty,
        model=load_uncertainty(args.uncertainty_model),
        seed=args.seed,
        max_exceedance=args.max_exceedance,
        pain=args.pain,
        soreness=args.soreness,
        model_name=args.model,
        names=getattr(args, "drills", None),
        progress=True,
        out_of_domain=getattr(args, "out_of_domain", "warn"),
    )
    print()
    print(uncertainty_table(ds))
    if args.out:
        csv, png = output_paths(Path(args.out))
        write_uncertainty_csv(ds, csv)
        plot_uncertainty(ds, png)
        print(f"wrote {csv} and {png}")
