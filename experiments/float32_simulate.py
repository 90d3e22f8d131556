"""``musclesim simulate`` in float32 against float64 along the 9 m/s sprint.

Runs the command twice in child processes, ``musclesim --precision float64 simulate`` and
``musclesim --precision float32 simulate`` (JAX's 64-bit mode is fixed per process), on the
sprinter's own 9 m/s trial (``run0900cms.mot`` of Dorn et al. 2012, see
``../shared/data/SOURCES.md``) with its own model, the hamstrings and calf of both legs,
compliant tendon, and the default excitation (the running template at the measured speed, the
sprinter's maximal speed 9.5 m/s). It prints, per muscle, the largest difference between the
two results in fibre strain (absolute) and tendon force (N, and as a fraction of that muscle's
peak), and whether the float32 run printed any warning (it must print none).

    python -m experiments.float32_simulate [--out results/float32]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from musclesim.core.io import shared_data_dir

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
MAX_SPEED = 9.5  # m/s, the sprinter's maximal speed used throughout (models/athletes)
PRECISIONS = ("float64", "float32")


def run_simulate(precision: str, motion: Path, out: Path, muscles=("hamstrings", "calf")) -> str:
    """Run ``musclesim --precision <precision> simulate`` into ``out``; return its stderr."""
    command = [
        sys.executable,
        "-m",
        "musclesim",
        "--precision",
        precision,
        "simulate",
        "--model",
        "sprinter_ja1",
        "--motion",
        str(motion),
        "--max-speed",
        str(MAX_SPEED),
        "--muscles",
        *muscles,
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stderr


def compare(single: xr.Dataset, double: xr.Dataset) -> dict[str, dict[str, float]]:
    """Per muscle: the largest |float32 - float64| of fibre strain and of tendon force (N and
    as a fraction of the float64 peak force)."""
    out = {}
    for muscle in double["muscle"].values:
        d, s = double.sel(muscle=muscle), single.sel(muscle=muscle)
        force = np.abs(s["tendon_force"].values - d["tendon_force"].values)
        peak = float(np.max(np.abs(d["tendon_force"].values)))
        out[str(muscle)] = {
            "fiber_strain": float(np.max(np.abs(s["fiber_strain"] - d["fiber_strain"]))),
            "tendon_force_N": float(np.max(force)),
            "tendon_force_of_peak": float(np.max(force) / peak) if peak > 0 else 0.0,
            "dtype": str(s["tendon_force"].dtype),
        }
    return out


def warnings_in(stderr: str) -> list[str]:
    """Lines of a command's stderr that are warnings."""
    return [line for line in stderr.splitlines() if "warn" in line.lower()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/float32"))
    parser.add_argument("--muscles", nargs="+", default=["hamstrings", "calf"])
    args = parser.parse_args(argv)
    motion = shared_data_dir() / SPRINT
    args.out.mkdir(parents=True, exist_ok=True)
    results, stderr = {}, {}
    for precision in PRECISIONS:
        path = args.out / f"run0900_{precision}.nc"
        stderr[precision] = run_simulate(precision, motion, path, args.muscles)
        results[precision] = xr.load_dataset(path)
    table = compare(results["float32"], results["float64"])
    print(f"{motion.name}, compliant tendon: float32 minus float64, largest over the trial")
    print(f"{'muscle':<12} {'fibre strain':>13} {'tendon force (N)':>17} {'of peak':>9}  dtype")
    for muscle, row in table.items():
        print(
            f"{muscle:<12} {row['fiber_strain']:>13.2e} {row['tendon_force_N']:>17.3f} "
            f"{row['tendon_force_of_peak']:>9.2e}  {row['dtype']}"
        )
    worst_strain = max(r["fiber_strain"] for r in table.values())
    worst_force = max(r["tendon_force_of_peak"] for r in table.values())
    print(f"largest: fibre strain {worst_strain:.2e}, tendon force {worst_force:.2e} of peak")
    noisy = warnings_in(stderr["float32"])
    print(f"float32 warnings: {len(noisy)}")
    for line in noisy[:10]:
        print(f"  {line}")
    return 1 if noisy or any(r["dtype"] != "float32" for r in table.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
