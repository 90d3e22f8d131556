"""``musclesim fit-geometry MODEL.osim --name NAME --out PATH``: fit length surrogates."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..core.errors import InputError
from ..core.groups import expand_muscles
from ..core.io import check_output
from ..geometry.fitting.fit import SAMPLING_BOXES, fit_geometry, merge_geometry
from ..geometry.io import load_geometry_dataset, resolve_model_path, write_geometry
from ..geometry.path_io import specs_from_dataset
from ..geometry.records import HELDOUT_MAX_TOL, HELDOUT_RMS_TOL
from ..osim.xml import muscle_elements, parse_osim


def add_fitted_file_arguments(p) -> None:
    """The arguments of the commands that post-process a fitted file against its ``.osim``
    (``fit-arm-convention``, ``refine-domain``): the model, ``--into`` and ``--out``."""
    p.add_argument("model", type=Path, help="the .osim model the geometry was fitted from")
    p.add_argument("--into", type=Path, required=True, metavar="FITTED.nc", help="geometry file")
    p.add_argument("--out", type=Path, default=None, help="output (default: --into itself)")


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "fit-geometry",
        help="fit musculotendon length surrogates from an OpenSim model (needs OpenSim)",
        description="Sample OpenSim musculotendon lengths over the model's coordinate ranges, "
        "fit a polynomial surrogate per muscle, and write one netCDF model file.",
    )
    p.add_argument("model", type=Path, help="the .osim model file")
    p.add_argument("--name", required=True, help="model name stored in the file, e.g. sprinter_ja1")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output file (default models/NAME.nc in the working directory)",
    )
    p.add_argument(
        "--muscles",
        nargs="+",
        default=None,
        help="muscle names or groups (hamstrings, calf, ...); default every muscle "
        "crossing the hip, knee or ankle",
    )
    p.add_argument(
        "--samples", type=int, default=16000, help="training + validation poses (default 16000)"
    )
    p.add_argument("--heldout", type=int, default=4000, help="held-out test poses")
    p.add_argument(
        "--max-terms",
        type=int,
        default=800,
        help="largest number of polynomial terms per muscle (default 800: degree 9 in four "
        "coordinates)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--box",
        choices=SAMPLING_BOXES,
        default="model",
        help="sampling box: 'model' (default), the .osim's coordinate ranges within the "
        "physiological cap; 'physiological', the cap itself (knee flexion -10..160, hip "
        "flexion -40..120 deg, ...), for generic models whose ranges end short of measured "
        "sprinting. Recorded in the file's fit_settings",
    )
    p.add_argument(
        "--merge-into",
        type=Path,
        default=None,
        metavar="FITTED.nc",
        help="refit only --muscles and merge them into this fitted file of the same .osim "
        "(other muscles unchanged); the result goes to --out (default: this file)",
    )
    p.add_argument("--note", default="", help="why the refit was made (recorded with --merge-into)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    muscles = args.muscles
    # musclesim's defused parser sees the file before OpenSim does (no DTD, no entities)
    muscle_names = list(muscle_elements(parse_osim(args.model)))
    base = resolve_model_path(args.merge_into) if args.merge_into is not None else None
    out = args.out or base or Path("models") / f"{args.name}.nc"
    check_output(out, inputs=[args.model])
    if args.merge_into is not None and muscles is None:
        raise InputError(
            "--merge-into without --muscles",
            field="--muscles",
            expected="the muscles to refit and merge",
        )
    if muscles is not None:
        muscles = expand_muscles(muscles, muscle_names)
    ds = fit_geometry(
        args.model,
        args.name,
        muscles=muscles,
        n_samples=args.samples,
        n_heldout=args.heldout,
        max_terms=args.max_terms,
        seed=args.seed,
        box=args.box,
        progress=not args.no_progress and sys.stderr.isatty(),  # bars only on a terminal
    )
    refit = ds
    if args.merge_into is not None:
        ds = merge_geometry(load_geometry_dataset(base), refit, note=args.note)
    write_geometry(ds, out)
    print(error_table(refit))
    n_miss = int(
        ((ds["heldout_rms"] > HELDOUT_RMS_TOL) | (ds["heldout_max"] > HELDOUT_MAX_TOL)).sum()
    )
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); {n_miss} muscle(s) miss the "
        f"held-out tolerance (RMS {HELDOUT_RMS_TOL * 1e3} mm, max {HELDOUT_MAX_TOL * 1e3} mm)"
    )
    return 0


def error_table(ds) -> str:
    """The per-muscle error report of a fitted model as a fixed-width text table (mm, deg)."""
    lines = [
        f"{'muscle':16s} {'coordinates':44s} {'deg':>3s} {'pcs':>3s} {'rms mm':>8s} "
        f"{'max mm':>8s}  domain notes"
    ]
    coords = [str(c) for c in ds["coordinate"].values]

    exact = specs_from_dataset(ds)
    for i, m in enumerate(ds["muscle"].values):
        if str(m) in exact:
            spec, _, check = exact[str(m)]
            names = ",".join(_abbreviate(c) for c in spec.inputs)
            lines.append(
                f"{str(m):16s} {names[:44]:44s} {'-':>3s} {'-':>3s} "
                f"{check.length_rms * 1e3:8.4f} {check.length_max * 1e3:8.4f}  exact path "
                f"({len(spec.location)} points, wrap {spec.wrap or 'none'}; the model's range)"
            )
            continue
        idx = [int(k) for k in ds["input_coordinate"].values[i] if k >= 0]
        names = ",".join(_abbreviate(coords[k]) for k in idx)
        pieces = 1 + int((ds["threshold_slot"].values[i] >= 0).sum())
        rms = float(ds["heldout_rms"].values[i]) * 1e3
        mx = float(ds["heldout_max"].values[i]) * 1e3
        cut = str(ds["domain_cuts"].values[i])
        note = "" if not cut else f"{len(cut.split(';'))} cut(s)"
        if "piece_kind" in ds and (ds["piece_kind"].values[i] == 1).any():
            note = f"{note} moving kink (min piece)".strip()
        lo = ds["domain_lower"].values[i]
        hi = ds["domain_upper"].values[i]
        shrunk = [
            f"{coords[k]} [{math.degrees(lo[k]):.0f}, {math.degrees(hi[k]):.0f}] deg"
            for k in idx
            if cut and coords[k] in cut
        ]
        lines.append(
            f"{str(m):16s} {names[:44]:44s} {int(ds['degree'].values[i]):3d} "
            f"{pieces:3d} {rms:8.4f} {mx:8.4f}  {note} {'; '.join(shrunk)}"
        )
    return "\n".join(lines)


_ABBREVIATIONS = {
    "hip_flexion": "hflex",
    "hip_adduction": "hadd",
    "hip_rotation": "hrot",
    "knee_angle": "knee",
    "ankle_angle": "ankle",
    "subtalar_angle": "subt",
    "mtp_angle": "mtp",
}


def _abbreviate(name: str) -> str:
    for long, short in _ABBREVIATIONS.items():
        name = name.replace(long, short)
    return name
