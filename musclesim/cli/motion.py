"""``musclesim scale``, ``musclesim ik`` and ``musclesim events``: markers to joint angles with
OpenSim, and gait events of a motion file (kinematic, and force-plate when a GRF file is given).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core.io import check_output_folder
from ..motion.gait import compare_events, detect_events, events_from_grf, refine_events_with_markers
from ..motion.markers import read_markers
from ..motion.opensim_tools import run_ik, scale_model
from ..motion.read import read_motion


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "scale",
        help="scale a generic .osim to a subject from a static trial (needs OpenSim)",
        description="Run OpenSim's ScaleTool with a lab's setup file; every input path of the "
        "setup is replaced by the paths given here and every output goes into --out.",
    )
    p.add_argument("--generic", required=True, type=Path, help="generic model (.osim)")
    p.add_argument("--static", required=True, type=Path, help="static trial markers (.trc)")
    p.add_argument("--setup", required=True, type=Path, help="ScaleTool setup (.xml)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--mass-kg", type=float, default=None, help="subject mass (default: setup's)")
    p.add_argument(
        "--scale-set",
        type=Path,
        default=None,
        help="apply these published scale factors (.xml) instead of measuring",
    )
    p.add_argument("--name", default="subject_scaled", help="base name of the outputs")
    p.set_defaults(func=run_scale)

    p = subparsers.add_parser(
        "ik",
        help="inverse kinematics of a marker trial (needs OpenSim)",
        description="Run OpenSim's InverseKinematicsTool; writes <name>.mot and the marker "
        "errors into --out and prints the marker error.",
    )
    p.add_argument("--model", required=True, type=Path, help="scaled model (.osim)")
    p.add_argument("--markers", required=True, type=Path, help="marker trial (.trc or .c3d)")
    p.add_argument("--setup", type=Path, default=None, help="IK setup with marker weights (.xml)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--start", type=float, default=None, help="start time (s)")
    p.add_argument("--end", type=float, default=None, help="end time (s)")
    p.add_argument("--name", default="ik", help="base name of the outputs")
    p.set_defaults(func=run_ik_cli)

    p = subparsers.add_parser(
        "events",
        help="foot strikes and toe-offs of a motion file",
        description="Detect gait events from joint angles and pelvis translation (Zeni 2008 "
        "windows, heel peak downward velocity, peak knee extension); with --grf also from the "
        "vertical ground reaction force, and the timing error between the two.",
    )
    p.add_argument("motion", type=Path, help="motion (.mot, .sto, .csv)")
    p.add_argument("--side", choices=("r", "l", "both"), default="both")
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help=".osim for the leg geometry and joint signs (default: generic Rajagopal)",
    )
    p.add_argument("--method", choices=("kinematic", "zeni"), default="kinematic")
    p.add_argument("--grf", type=Path, default=None, help="ground reaction forces (.mot/.sto)")
    p.add_argument(
        "--markers",
        type=Path,
        default=None,
        help="foot markers of the same trial (.trc/.c3d, >= 200 Hz): refine the events with "
        "Handsaker et al. 2016's marker rules",
    )
    p.add_argument(
        "--threshold-n",
        type=float,
        default=20.0,
        help="vertical force threshold for contact (N, default 20)",
    )
    p.set_defaults(func=run_events)


def run_scale(args) -> int:
    check_output_folder(args.out, inputs=[args.generic, args.static, args.setup])

    result = scale_model(
        args.generic,
        args.static,
        setup=args.setup,
        output_dir=args.out,
        mass_kg=args.mass_kg,
        scale_set=args.scale_set,
        name=args.name,
    )
    print(f"scaled model: {result.model_path}")
    print(f"scale factors: {result.scale_set_path}")
    print(
        f"static pose marker error after placement: RMS {100 * result.marker_rms_m:.2f} cm, "
        f"max {100 * result.marker_max_m:.2f} cm"
    )
    print(f"OpenSim ScaleTool time: {result.seconds:.1f} s")
    return 0


def run_ik_cli(args) -> int:
    check_output_folder(args.out, inputs=[args.model, args.markers, args.setup])

    markers = args.markers if args.markers.suffix.lower() == ".trc" else read_markers(args.markers)
    time_range = None
    if args.start is not None or args.end is not None:
        time_range = (
            args.start if args.start is not None else -np.inf,
            args.end if args.end is not None else np.inf,
        )
    motion = run_ik(
        args.model,
        markers,
        setup=args.setup,
        output_dir=args.out,
        time_range=time_range,
        name=args.name,
    )
    print(
        f"motion: {motion.attrs['ik_output']} ({motion.sizes['time']} frames, "
        f"{motion.sizes['coordinate']} coordinates)"
    )
    print(
        f"marker error: RMS {100 * motion.attrs['ik_marker_rms_m']:.2f} cm, "
        f"max {100 * motion.attrs['ik_marker_max_m']:.2f} cm"
    )
    print(f"OpenSim IK time: {motion.attrs['ik_seconds']:.1f} s")
    return 0


def run_events(args) -> int:

    began = time.perf_counter()
    motion = read_motion(args.motion, model=args.model)
    sides = ("r", "l") if args.side == "both" else (args.side,)
    for side in sides:
        events = detect_events(motion, side=side, method=args.method, model=args.model)
        if args.markers is not None:
            events = refine_events_with_markers(events, read_markers(args.markers))
        print(f"side {side} ({events.method}):")
        print("  foot strike (s): " + " ".join(f"{x:.3f}" for x in events.foot_strike))
        print("  toe-off (s):     " + " ".join(f"{x:.3f}" for x in events.toe_off))
        strides = events.strides()
        if strides:
            stance = np.array([(to - fs) for fs, to, _ in strides])
            period = np.array([(end - fs) for fs, _, end in strides])
            print(
                f"  {len(strides)} complete strides: stride {period.mean():.3f} s, "
                f"stance {stance.mean():.3f} s ({100 * np.mean(stance / period):.1f} %)"
            )
        if args.grf is not None:
            reference = events_from_grf(args.grf, side=side, threshold_n=args.threshold_n)
            print(
                "  force plate foot strike (s): "
                + " ".join(f"{x:.3f}" for x in reference.foot_strike)
            )
            print(
                "  force plate toe-off (s):     " + " ".join(f"{x:.3f}" for x in reference.toe_off)
            )
            for kind, errors in compare_events(events, reference).items():
                if errors.size:
                    print(
                        f"  {kind} error vs force plate: mean {1000 * errors.mean():+.1f} ms, "
                        f"max |error| {1000 * np.abs(errors).max():.1f} ms (n={errors.size})"
                    )
    print(f"({time.perf_counter() - began:.2f} s)")
    return 0
