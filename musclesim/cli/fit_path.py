"""``musclesim fit-path``: read exact paths from an ``.osim``, check them against OpenSim and store
them in a fitted geometry file (needs OpenSim).
"""

from __future__ import annotations

from ..core.io import check_output, sha256_file
from ..geometry.fitting.path import VERIFY_POSES, fit_paths
from ..geometry.io import load_geometry_dataset, write_geometry
from ..geometry.path_io import attach_paths
from .geometry import add_fitted_file_arguments


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "fit-path",
        help="store exact OpenSim paths for wrapped muscles in a fitted geometry file "
        "(needs OpenSim)",
        description="Read the path of each muscle (fixed points on two bodies, one joint, one "
        "wrap cylinder) from the .osim, check that musclesim's evaluation of it equals "
        "OpenSim's lengths and computeMomentArm at random poses over the model's ranges, and "
        "store it in the fitted file, where it replaces the muscle's polynomial.",
    )

    add_fitted_file_arguments(p)
    p.add_argument(
        "--muscles",
        nargs="+",
        default=None,
        help="default: every muscle with excluded regions or a held-out miss whose path is "
        "supported",
    )
    p.add_argument("--poses", type=int, default=VERIFY_POSES, help="check poses per muscle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="why (recorded in path_settings)")
    p.set_defaults(func=_run_cli)


def _run_cli(args) -> int:

    # --out defaults to --into: the fitted file is updated in place (atomically), by design
    check_output(args.out or args.into, inputs=[args.model])
    ds = load_geometry_dataset(args.into)
    records, skipped = fit_paths(args.model, ds, args.muscles, n=args.poses, seed=args.seed)
    if not records:
        print("no muscle with a supported path; file unchanged")
        return 0
    settings = {
        "poses": args.poses,
        "seed": args.seed,
        "source_sha256": sha256_file(args.model),
        **({"note": args.note} if args.note else {}),
        **({"skipped": skipped} if skipped else {}),
    }
    path = write_geometry(attach_paths(ds, records, settings), args.out or args.into)
    print(f"wrote {path}: exact paths for {', '.join(records)}")
    return 0
