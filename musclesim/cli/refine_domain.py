"""``musclesim refine-domain``: subdivide a fitted file's excluded regions against OpenSim and keep
only the sub-boxes where the surrogate misses (needs OpenSim).
"""

from __future__ import annotations

from ..core.io import check_output
from ..geometry.fitting.refine import DEFAULT_TOLERANCE, RECHECK_DENSITY, refine_dataset
from ..geometry.io import load_geometry_dataset, write_geometry
from .geometry import add_fitted_file_arguments


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "refine-domain",
        help="shrink a fitted file's excluded regions to where OpenSim's path is erratic "
        "(needs OpenSim)",
        description="Subdivide each excluded region of the chosen muscles recursively, test "
        "every sub-box with random OpenSim poses against the surrogate, and keep excluded only "
        "the sub-boxes where some pose misses by more than the tolerance.",
    )

    add_fitted_file_arguments(p)
    p.add_argument("--muscles", nargs="+", required=True)
    p.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE * 1e3, help="mm (default 1)"
    )
    p.add_argument("--samples-per-leaf", type=int, default=64, help="poses per box and level")
    p.add_argument("--depth", type=int, default=12, help="bisections of a region at most")
    p.add_argument(
        "--recheck-density",
        type=float,
        default=RECHECK_DENSITY,
        help="poses per domain volume of the check before a box returns to the domain",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--whole-domain",
        nargs="+",
        default=(),
        metavar="MUSCLE",
        help="subdivide these muscles' whole domain box, not only their excluded regions",
    )
    p.add_argument(
        "--per-region",
        action="store_true",
        help="subdivide each region on its own grid (default: one grid over their bounding box)",
    )
    p.set_defaults(func=_run_cli)


def _run_cli(args) -> int:

    # --out defaults to --into: the fitted file is updated in place (atomically), by design
    check_output(args.out or args.into, inputs=[args.model])
    ds = load_geometry_dataset(args.into)
    out = refine_dataset(
        args.model,
        ds,
        args.muscles,
        tolerance=args.tolerance * 1e-3,
        samples_per_leaf=args.samples_per_leaf,
        depth=args.depth,
        recheck_density=args.recheck_density,
        seed=args.seed,
        whole_domain=args.whole_domain,
        one_grid=not args.per_region,
    )
    path = write_geometry(out, args.out or args.into)
    print(f"wrote {path}")
    return 0
