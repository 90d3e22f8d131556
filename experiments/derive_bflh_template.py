"""Derive the shipped demo template: bflh_r MTU length along the 9 m/s sprint (needs OpenSim).

Computes the right biceps femoris long head's musculotendon length with OpenSim 4.6 from
``Sprinter_JA1_scaled.osim`` and ``run0900cms.mot`` (Dorn et al. 2012 subject JA1, see
``../shared/data/SOURCES.md``), by the method of SOURCES.md 3.2, and writes it with both source
files' sha256 to ``models/templates/bflh_r_sprint_9ms.csv``. The shared files themselves are
never copied. Run: ``python -m experiments.derive_bflh_template``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from musclesim.core.io import sha256_file, shared_data_dir, write_text_atomic
from musclesim.twins.muscle import opensim_mtu_length_along_motion

MODEL = "models/Sprinter_JA1_scaled.osim"
MOTION = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
OUT = Path(__file__).resolve().parent.parent / "models/templates/bflh_r_sprint_9ms.csv"


def build(data_dir: Path):
    return opensim_mtu_length_along_motion(data_dir / MODEL, data_dir / MOTION, ["bflh_r"])


def run(data_dir: Path, out: Path = OUT) -> Path:
    time, lengths = build(data_dir)
    header = [
        "# bflh_r musculotendon length (m) along the 9 m/s sprint, computed by OpenSim 4.6",
        f"# model: {MODEL} sha256={sha256_file(data_dir / MODEL)}",
        f"# motion: {MOTION} sha256={sha256_file(data_dir / MOTION)}",
        "# method: ../shared/data/SOURCES.md 3.2 (set coordinates, realizePosition, getLength);"
        " produced by experiments/derive_bflh_template.py",
        "time_s,mtu_length_m",
    ]
    rows = [f"{t:.6f},{length:.9f}" for t, length in zip(time, lengths[0], strict=True)]
    return write_text_atomic(out, "\n".join(header + rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(run(shared_data_dir(), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
