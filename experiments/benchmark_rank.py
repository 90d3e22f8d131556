"""``rank_drills`` for the example athlete: cold, cold with a warm compilation cache, and warm.

Prints three wall times of :func:`musclesim.rank_drills` (example grade-2b BFlh athlete, day
2026-11-23 as in ``make demo``):

1. **cold**: a fresh Python process whose persistent JAX compilation cache folder is empty, so
   every program is compiled (the first run after installing musclesim);
2. **cold, warm cache**: a second fresh process on the same folder, which reads the compiled
   programs from disk (every later run of ``musclesim rank``);
3. **second call**: the same call again in that process (an API user ranking again).

With ``--cli`` it also times the command itself, ``musclesim rank --athlete ... --out ...``,
twice on a new empty cache folder (first run compiles, second reads the cache), as whole
processes. Each process is started with ``MUSCLESIM_JAX_CACHE`` set to the folder. Run:
``python -m experiments.benchmark_rank [--cli] [--tiny]`` (``--tiny`` ranks two drills without
the maximal-safe-intensity search, for the test).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time as timer
from pathlib import Path

from experiments._vectors import use_command_line_vectors

ATHLETE = "models/athletes/example_grade2_bflh.toml"
DAY = "2026-11-23"
TINY_DRILLS = ["running", "nordic_hamstring"]

#: What one benchmark process runs: two rank_drills calls, timed, and the import before them.
_CHILD = """
import datetime, json, sys, time, warnings
start = time.perf_counter()
import jax
jax.config.update("jax_enable_x64", True)
import musclesim
from musclesim.core.io import REPO_ROOT
from musclesim.training.athlete import load_athlete
folder = musclesim.enable_compilation_cache()
imported = time.perf_counter() - start
options = json.loads(sys.argv[1])
day = datetime.date.fromisoformat(options["day"])
athlete = load_athlete(REPO_ROOT / options["athlete"], today=day)
times, cpu = [], []
for _ in range(2):
    start, clock = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranking = musclesim.rank_drills(
            athlete, day=day, names=options["names"],
            with_max_safe=options["with_max_safe"])
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - clock)
print(json.dumps({"import_s": imported, "calls_s": times, "cpu_s": cpu, "cache": str(folder),
                  "status": [str(x) for x in ranking["status"].values]}))
"""


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def build(*, tiny: bool = False, cli: bool = False) -> dict:
    return {
        "athlete": ATHLETE,
        "day": DAY,
        "names": TINY_DRILLS if tiny else None,
        "with_max_safe": not tiny,
        "cli": cli,
    }


def _child(options: dict, folder: Path) -> dict:
    env = dict(os.environ, MUSCLESIM_JAX_CACHE=str(folder))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(options)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(options: dict, folder: Path, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one ``musclesim rank`` process."""
    env = dict(os.environ, MUSCLESIM_JAX_CACHE=str(folder))
    command = [sys.executable, "-m", "musclesim", "rank", "--athlete", options["athlete"]]
    command += ["--date", options["day"], "--out", str(out)]
    if options["names"]:
        command += ["--drills", *options["names"]]
    if not options["with_max_safe"]:
        command += ["--no-max-safe"]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = timer.perf_counter()
    subprocess.run(
        command, env=env, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1]
    )
    wall = timer.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)


def run(inputs: dict) -> dict:
    options = {k: inputs[k] for k in ("athlete", "day", "names", "with_max_safe")}
    with tempfile.TemporaryDirectory(prefix="musclesim-bench-") as tmp:
        folder = Path(tmp) / "jax"
        cold = _child(options, folder)
        size = _folder_mb(folder)
        warm = _child(options, folder)
        result = {
            "cold_cpu_s": cold["cpu_s"][0],
            "cold_warm_cache_cpu_s": warm["cpu_s"][0],
            "second_call_cpu_s": warm["cpu_s"][1],
            "cold_s": cold["calls_s"][0],
            "cold_warm_cache_s": warm["calls_s"][0],
            "second_call_s": warm["calls_s"][1],
            "import_cold_s": cold["import_s"],
            "import_warm_s": warm["import_s"],
            "cache_mb": size,
            "same_verdicts": cold["status"] == warm["status"],
        }
        if inputs["cli"]:
            folder = Path(tmp) / "cli"
            result["cli_first_s"] = _cli(options, folder, Path(tmp) / "a.csv")
            result["cli_second_s"] = _cli(options, folder, Path(tmp) / "b.csv")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", action="store_true", help="also time `musclesim rank` twice")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    use_command_line_vectors()
    r = run(build(tiny=args.tiny, cli=args.cli))
    print(f"rank_drills, example athlete, day {DAY} (import of musclesim not included)")
    print(f"  {'':36s} {'wall s':>8s} {'CPU s':>8s}")
    for label, key in (
        ("cold (empty compilation cache)", "cold"),
        ("cold process, warm cache", "cold_warm_cache"),
        ("second call in the same process", "second_call"),
    ):
        print(f"  {label:36s} {r[key + '_s']:8.1f} {r[key + '_cpu_s']:8.1f}")
    print(f"  import musclesim: {r['import_cold_s']:.1f} s cold, {r['import_warm_s']:.1f} s warm")
    print(
        f"  compilation cache written: {r['cache_mb']:.1f} MB; same verdicts: {r['same_verdicts']}"
    )
    if "cli_first_s" in r:
        print(
            f"musclesim rank (whole process, wall/CPU s): {r['cli_first_s'][0]:.1f}/"
            f"{r['cli_first_s'][1]:.1f} with an empty cache, {r['cli_second_s'][0]:.1f}/"
            f"{r['cli_second_s'][1]:.1f} on the second run"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
