"""The README's quick start runs as written: fit a model's geometry against OpenSim, simulate a
measured run, plot it and rank the drills for the example athlete, each command checked by its
exit status and by the files it must write."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> str:
    """The quick start's bash block, without its first line (``make demo``: the environment the
    tests run in is already that install)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    first, rest = block.split("\n", 1)
    assert first.startswith("make demo"), first
    return rest


def test_quick_start_block_is_found():
    commands = quick_start_commands()
    for step in ("fit-geometry", "simulate", "plot", "rank"):
        assert f"musclesim {step}" in commands


@pytest.mark.slow
@pytest.mark.opensim
def test_quick_start_runs_as_written(data_dir):
    out = ROOT / "results" / "quickstart"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    script = "set -euo pipefail\n" + quick_start_commands().replace(
        "D=../shared/data", f"D={data_dir}"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with xr.open_dataset(out / "run300.nc") as ds:
        assert {"bifemlh_r", "soleus_r"} <= set(ds.muscle.values)
        assert float(ds["peak_mtu_strain"].sel(muscle="bifemlh_r")) > 0.0
    assert (out / "run300.png").stat().st_size > 10_000
    ranking = (out / "ranking.csv").read_text().splitlines()
    assert len(ranking) > 10 and "nordic_hamstring" in "\n".join(ranking)
