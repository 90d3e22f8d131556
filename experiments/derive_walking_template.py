"""Derive the shipped walking template from the measured gait2392 walk (no OpenSim needed).

Reads ``kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot`` from ``../shared/data``
(OpenSim's gait2392 example, subject01; ``pelvis_tx`` nearly constant, so the speed comes from the
stance foot: ``musclesim.training.drills.stance_foot_speed``), detects gait events with the leg
geometry of ``gait2392_subject01_scaled.osim``, cuts and averages the right stride(s)
(``musclesim.training.drills.derive_walking_template``) and writes the mean curves, cadence, speed
and the source files' names and sha256 to ``models/templates/walking_gait2392_subject01.nc``
atomically. The shared files are never copied. The speed dependence (cadence and joint excursions vs
speed) is stated, with its sources, in ``models/drills/walking.toml``.
Run: ``python -m experiments.derive_walking_template``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musclesim.core.io import shared_data_dir, write_netcdf_atomic
from musclesim.training.drills import derive_walking_template

MODEL = "models/gait2392_subject01_scaled.osim"
MOTION = "kinematics/opensim-models_gait2392_walking/subject01_walk1_ik.mot"
OUT = Path(__file__).resolve().parent.parent / "models/templates/walking_gait2392_subject01.nc"
COMMAND = "python -m experiments.derive_walking_template"


def build(data_dir: Path, *, motion: str = MOTION, n_points: int = 101):
    """The template Dataset from ``data_dir`` (the shared data folder)."""
    return derive_walking_template(
        data_dir / motion, model=data_dir / MODEL, n_points=n_points, command=COMMAND
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
