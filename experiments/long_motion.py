"""Peak memory and wall time of ``musclesim simulate`` on a long motion.

``build`` writes a synthetic overground run of any duration: the shipped cycle-averaged running
cycle of the sprinter (``models/templates/running_sprinter_ja1.nc``, the slowest of its four
speeds, 3.54 m/s, with its measured stride frequency) repeated at 100 Hz, the pelvis travelling
forward at that speed (so ``simulate`` measures it). ``run`` times ``musclesim simulate`` on it
in a child process under ``/usr/bin/time -v`` (peak resident memory, wall time).

    python -m experiments.long_motion --minutes 60 --out results/long_motion
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from musclesim.core.io import MODELS_DIR
from musclesim.motion.storage import write_storage

TEMPLATE = MODELS_DIR / "templates" / "running_sprinter_ja1.nc"
RATE_HZ = 100.0


def build(minutes: float, out: Path, *, speed_index: int = 0) -> Path:
    """Write the synthetic run (``minutes`` long) as ``out/run_<minutes>min.mot``."""
    with xr.open_dataset(TEMPLATE) as tpl:
        speed = float(tpl["speed"][speed_index])
        frequency = float(tpl["stride_frequency"][speed_index])
        q_cycle = tpl["q_mean"].isel(speed=speed_index).transpose("phase", "coordinate").values
        phase = tpl["phase"].values
        names = [str(c) for c in tpl["coordinate"].values]
        units = [str(u) for u in tpl["unit"].values]
    t = np.arange(int(round(minutes * 60 * RATE_HZ))) / RATE_HZ
    cycle_phase = np.mod(t * frequency, 1.0) * 100.0
    q = np.stack([np.interp(cycle_phase, phase, q_cycle[:, j]) for j in range(len(names))], 1)
    q = np.concatenate([q, (speed * t)[:, None]], axis=1)
    motion = xr.Dataset(
        {"q": (("time", "coordinate"), q)},
        coords={
            "time": t,
            "coordinate": [*names, "pelvis_tx"],
            "unit": ("coordinate", [*units, "m"]),
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    return write_storage(motion, out / f"run_{minutes:g}min.mot")


def run(motion: Path, *, tendon: str = "compliant") -> dict:
    """Wall time (s) and peak resident memory (MB) of ``musclesim simulate`` on ``motion``."""
    command = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "musclesim",
        "simulate",
        "--model",
        "sprinter_ja1",
        "--motion",
        str(motion),
        "--tendon",
        tendon,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss_kb = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return {
        "rows": sum(1 for _ in open(motion)) - 7,
        "wall_s": 3600 * hours + 60 * minutes + seconds,
        "peak_rss_mb": rss_kb / 1024,
        "stdout_tail": done.stdout[-600:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[60.0])
    parser.add_argument("--tendon", choices=("compliant", "rigid"), default="compliant")
    parser.add_argument("--out", type=Path, default=Path("results/long_motion"))
    args = parser.parse_args(argv)
    for minutes in args.minutes:
        result = run(build(minutes, args.out), tendon=args.tendon)
        print(
            f"{minutes:g} min ({result['rows']} rows), {args.tendon}: wall "
            f"{result['wall_s']:.1f} s, peak memory {result['peak_rss_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
