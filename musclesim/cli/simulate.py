"""``musclesim simulate`` and ``musclesim plot``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from ..core.errors import InputError
from ..core.io import check_output, existing_input, write_netcdf_atomic
from ..dynamics.inverse import read_external_loads
from ..pipeline.plot import plot_result
from ..pipeline.simulate import STATIC_OPTIMIZATION_CUTOFF_HZ, simulate


def _summary_table(ds) -> str:
    columns = [
        ("peak_mtu_strain", "MTU strain", 100.0, "%"),
        ("peak_eccentric_fiber_strain", "ecc. fibre strain", 100.0, "%"),
        ("peak_eccentric_fiber_strain_phase", "at phase", 1.0, "%"),
        ("peak_lengthening_velocity", "lengthening", 1.0, "m/s"),
        ("negative_work", "neg. work", 1.0, "J"),
        ("peak_force", "peak force", 1.0, "N"),
    ]
    head = f"{'muscle':12s}" + "".join(
        f"{label + ' (' + unit + ')':>22s}" for _, label, _, unit in columns
    )
    lines = [head]
    for name in ds["muscle"].values:
        row = f"{str(name):12s}"
        for var, _, scale, _ in columns:
            value = float(ds[var].sel(muscle=name)) * scale if var in ds else np.nan
            if np.isfinite(value):
                row += f"{value:22.2f}"
                continue
            note = f"{var}_note"
            word = str(ds[note].sel(muscle=name).values) if note in ds else ""
            row += f"{(word or _MISSING.get(var, 'not computed'))[:21]:>22s}"
        lines.append(row)
    return "\n".join(lines)


#: What an empty summary cell means, for the variables without a note of their own.
_MISSING = {
    "peak_eccentric_fiber_strain": "never active+lengthening",
    "peak_eccentric_fiber_strain_phase": "no gait events",
}


def _excitation_lines(ds) -> str:
    lines = [f"excitation: {ds.attrs.get('excitation_name', ds.attrs['excitation'])}"]
    if ds.attrs.get("excitation_notes"):
        lines.append(f"  ({ds.attrs['excitation_notes']})")
    if ds.attrs.get("excitation_template_peaks"):
        lines.append(f"  template peak levels: {ds.attrs['excitation_template_peaks']}")
    lines.append(f"  largest excitation per muscle: {ds.attrs.get('excitation_peaks', '')}")
    return "\n".join(lines)


class _Progress:
    """A bar of samples solved, fed by :func:`~musclesim.simulate`'s ``progress`` callback
    (called after each piece of a long motion); drawn only on a terminal."""

    def __init__(self):
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                desc="musclesim simulate",
                unit="sample",
                unit_scale=True,
                disable=not sys.stderr.isatty(),
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def domain_line(ds) -> str:
    """One line on the poses the geometry could not follow (``--out-of-domain``), for the
    printed summary and every text output's header."""
    n = int(ds.attrs.get("out_of_domain_samples", 0))
    policy = ds.attrs.get("out_of_domain_policy", "refuse")
    if not n:
        return f"out-of-domain samples: 0 (every pose inside the fitted geometry; {policy})"
    return (
        f"out-of-domain samples: {n} muscle-samples at {ds.attrs['out_of_domain_frames']} "
        f"frames clamped onto the fitted geometry box and continued to first order "
        f"(--out-of-domain {policy}; flagged in the variable out_of_domain)"
    )


def _simulate(args) -> int:

    existing_input(args.motion, "a motion file (.mot, .sto, .csv)", field="--motion")
    inputs = [args.motion, args.osim, args.grf, args.grf_data, args.model]
    if args.excitation not in ("auto", "running", "sprinting", "static_optimization"):
        inputs.append(args.excitation)  # an EMG file
    if args.out:
        check_output(args.out, inputs=inputs)
    if args.grf is not None:  # refused now rather than after the kinematics are processed
        read_external_loads(args.grf, data_file=args.grf_data)
    muscles = args.muscles or ["hamstrings", "calf"]
    progress = _Progress()
    try:
        ds = simulate(
            args.model,
            args.motion,
            excitation=args.excitation,
            speed=args.speed,
            max_speed=args.max_speed,
            progress=progress,
            muscles=muscles,
            tendon=args.tendon,
            osim=args.osim,
            grf=args.grf,
            grf_data=args.grf_data,
            cutoff_hz=None if args.cutoff == 0 else args.cutoff,
            moment_arm_convention=args.moment_arms,
            out_of_domain=args.out_of_domain,
        )
    finally:
        progress.close()
    print(_summary_table(ds))
    print(
        f"thresholds: activation > {ds.attrs['activation_threshold']}, normalised "
        f"lengthening velocity > {ds.attrs['lengthening_threshold']}"
    )
    print(_excitation_lines(ds))
    print(domain_line(ds))
    if args.out:
        write_netcdf_atomic(ds, args.out)
        print(f"wrote {args.out}")
    return 0


def _plot(args) -> int:
    existing_input(args.result, "a netCDF file written by `musclesim simulate`")
    check_output(args.out, inputs=[args.result])
    try:
        ds = xr.load_dataset(args.result)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read result ({exc})",
            path=args.result,
            expected="a netCDF file written by `musclesim simulate`",
        ) from exc
    print(plot_result(ds, args.out, muscles=args.muscles))
    return 0


def add_out_of_domain_argument(parser) -> None:
    """``--out-of-domain {refuse,clamp}``, shared by the commands that evaluate the geometry."""
    parser.add_argument(
        "--out-of-domain",
        choices=("refuse", "clamp"),
        default="refuse",
        help="poses outside a muscle's fitted geometry domain: 'refuse' (default; the frames, "
        "coordinates and fitted ranges named before the computation) or 'clamp' (the length "
        "continued to first order from the fitted box, flagged in the result and counted in "
        "every output's header)",
    )


def register_cli(subparsers) -> None:

    sim = subparsers.add_parser("simulate", help="per-muscle strain and load along a motion")
    sim.add_argument("--model", required=True, help="shipped model name or fitted model file")
    sim.add_argument("--motion", required=True, type=Path, help=".mot/.sto/.csv motion file")
    sim.add_argument(
        "--excitation",
        default="auto",
        help="'auto' (default: the running template at the motion's speed, --speed or measured"
        " from an overground pelvis), a number in [0,1], 'running', 'sprinting',"
        " 'static_optimization' (joint moments by inverse dynamics shared among all muscles of"
        " each leg) or an EMG file",
    )
    sim.add_argument(
        "--speed",
        type=float,
        default=None,
        help="running speed of the motion (m/s), for --excitation auto (needed on a treadmill)",
    )
    sim.add_argument(
        "--max-speed",
        type=float,
        default=None,
        help="the athlete's maximal sprint speed (m/s), for --excitation auto above 3.7 m/s",
    )
    sim.add_argument(
        "--grf",
        type=Path,
        help="static_optimization: OpenSim ExternalLoads .xml with the ground reaction forces"
        " (without it, stance moments are flagged invalid)",
    )
    sim.add_argument(
        "--grf-data", type=Path, help="the .mot/.sto the --grf xml names, if its path is stale"
    )
    sim.add_argument(
        "--osim",
        type=Path,
        help="static_optimization: the .osim for inverse dynamics (default: the model the"
        " geometry was fitted from, in the shared data)",
    )
    sim.add_argument(
        "--cutoff",
        type=float,
        default=STATIC_OPTIMIZATION_CUTOFF_HZ,
        help="static_optimization: kinematics low-pass cutoff in Hz (0: no filter)",
    )
    sim.add_argument(
        "--moment-arms",
        choices=("length", "opensim"),
        default="length",
        help="static_optimization: moment arms -dL/dq of the fitted length (default) or "
        "OpenSim's computeMomentArm convention (to reproduce OpenSim's Static Optimization)",
    )
    sim.add_argument("--muscles", nargs="*", help="muscle names or groups (hamstrings, calf)")
    sim.add_argument("--tendon", choices=("compliant", "rigid"), default="compliant")
    add_out_of_domain_argument(sim)
    sim.add_argument("--out", type=Path, help="result netCDF file")
    sim.set_defaults(func=_simulate)

    plot = subparsers.add_parser("plot", help="figure of a simulate result")
    plot.add_argument("result", type=Path)
    plot.add_argument("--out", type=Path, required=True)
    plot.add_argument("--muscles", nargs="*")
    plot.set_defaults(func=_plot)
