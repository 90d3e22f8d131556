"""``musclesim fit-arm-convention``: screen a fitted geometry for OpenSim moment-arm convention
differences and store the fitted corrections in the file (needs OpenSim).
"""

from __future__ import annotations

from ..core.io import check_output
from ..geometry.corrections_io import attach_corrections, corrections_to_dataset
from ..geometry.fitting.arm_convention import fit_arm_conventions
from ..geometry.io import load_geometry_dataset, write_geometry
from .geometry import add_fitted_file_arguments


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "fit-arm-convention",
        help="fit OpenSim's moment-arm convention into a fitted geometry file (needs OpenSim)",
        description="Screen every muscle of a fitted geometry file for poses where OpenSim's "
        "computeMomentArm differs from its own -dL/dq, fit a correction for each pair that "
        "differs, and store it in the file (moment_arm(..., convention='opensim')).",
    )

    add_fitted_file_arguments(p)
    p.add_argument("--muscles", nargs="+", default=None, help="default every fitted muscle")
    p.add_argument("--samples", type=int, default=3000, help="poses per corrected pair")
    p.add_argument("--heldout", type=int, default=1000, help="held-out poses per pair")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_run_cli)


def _run_cli(args) -> int:

    # --out defaults to --into: the fitted file is updated in place (atomically), by design
    check_output(args.out or args.into, inputs=[args.model])
    ds = load_geometry_dataset(args.into)
    fits, screen, rejected = fit_arm_conventions(
        args.model,
        ds,
        muscles=args.muscles,
        samples=args.samples,
        heldout=args.heldout,
        seed=args.seed,
    )
    settings = {
        "samples": args.samples,
        "heldout": args.heldout,
        "seed": args.seed,
        "muscles": args.muscles or "all",
    }
    out = attach_corrections(ds, corrections_to_dataset(fits, screen, settings, rejected))
    path = write_geometry(out, args.out or args.into)
    print(
        f"wrote {path}: {len(fits)} corrected pair(s) of {len(screen)} screened"
        + (f"; {len(rejected)} rejected (OpenSim's Delta erratic there)" if rejected else "")
    )
    return 0
