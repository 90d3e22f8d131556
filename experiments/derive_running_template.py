"""Derive the shipped running template from the measured sprint kinematics (no OpenSim needed).

Reads the four Dorn et al. 2012 (subject JA1) trials in ``../shared/data`` (run0350cms.mot …
run0900cms.mot; measured speeds 3.54, 5.21, 7.02, 9.51 m/s from the pelvis_tx slope), detects
gait events with the leg geometry of ``Sprinter_JA1_scaled.osim``, cuts and averages the right
strides (``musclesim.training.drills.derive_running_template``) and writes the per-speed
mean curves, SDs, cadence and each source file's name and sha256 to
``models/templates/running_sprinter_ja1.nc`` atomically. The shared files are never copied.
Run: ``python -m experiments.derive_running_template``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musclesim.core.io import shared_data_dir, write_netcdf_atomic
from musclesim.training.drills import derive_running_template

MODEL = "models/Sprinter_JA1_scaled.osim"
MOTIONS = tuple(
    f"kinematics/nimblephysics_dorn2012_sprinter/run{s}cms.mot"
    for s in ("0350", "0500", "0700", "0900")
)
OUT = Path(__file__).resolve().parent.parent / "models/templates/running_sprinter_ja1.nc"
COMMAND = "python -m experiments.derive_running_template"


def build(data_dir: Path, *, motions=MOTIONS, n_points: int = 101):
    """The template Dataset from ``data_dir`` (the shared data folder)."""
    return derive_running_template(
        [data_dir / m for m in motions], model=data_dir / MODEL, n_points=n_points, command=COMMAND
    )


def run(data_dir: Path, out: Path = OUT, **kwargs) -> Path:
    """Build the template and write it to ``out`` (netCDF, atomic)."""
    return write_netcdf_atomic(build(data_dir, **kwargs), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    path = run(args.data or shared_data_dir(), args.out)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
