"""Where and why OpenSim's wrapped paths jump: the exact paths of a fitted model
(``musclesim fit-path``) at random poses, each moved a little.

For every muscle with an exact path, ``n`` uniform poses over the model's range of its
coordinates are each moved by ``step_deg`` in a random direction; a length change larger than
``threshold_mm`` is a jump (a smooth path changes by at most |r| step, under 1 mm for a
0.5 deg step and a 100 mm moment arm). Each jump is classified by OpenSim's verdict on the path
segments before and after the move (``PathBlock.segment_states``):

* ``inside radius``: the wrap is dropped because a path point entered the cylinder's radius
  (OpenSim then lets the path cut straight through the cylinder);
* ``long way``: the kept wrap goes more than half way round the cylinder at one end;
* ``other segment``: the wrap moves from one segment of the path to another;
* ``on/off``: the wrap starts or stops otherwise (quadrant, cylinder ends).

Run: ``python -m experiments.path_flips [--model opencap_jump] [--poses 20000]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np

CAUSES = ("inside radius", "long way", "other segment", "on/off")


@dataclass
class Setup:
    model: object
    block: object
    start: np.ndarray  # [n, k] poses of the block's coordinates (rad)
    moved: np.ndarray
    threshold_m: float


def build(
    model_name: str = "opencap_jump",
    n_poses: int = 20000,
    *,
    step_deg: float = 0.5,
    threshold_mm: float = 1.0,
    seed: int = 0,
) -> Setup:
    """The model's path block and the random poses and moves (uniform over the range every
    path muscle is stated on)."""
    from musclesim import load_model
    from musclesim.geometry.path import PathBlock

    model = load_model(model_name)
    blocks = [b for b in model.blocks if isinstance(b, PathBlock)]
    if not blocks:
        raise SystemExit(f"model {model_name!r} has no exact path (musclesim fit-path)")
    block = blocks[0]
    ci = list(block.coordinate_index)
    lo = np.asarray(model.domain_lower)[list(block.muscle_index)][:, ci]
    hi = np.asarray(model.domain_upper)[list(block.muscle_index)][:, ci]
    lo = np.nanmax(np.where(np.isfinite(lo), lo, np.nan), axis=0)
    hi = np.nanmin(np.where(np.isfinite(hi), hi, np.nan), axis=0)
    rng = np.random.default_rng(seed)
    start = rng.uniform(lo, hi, (n_poses, len(ci)))
    direction = rng.normal(size=start.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    moved = start + math.radians(step_deg) * direction
    return Setup(model, block, start, moved, threshold_mm * 1e-3)


def _classify(before, after) -> str:
    status0, keep0, long0 = before
    status1, keep1, long1 = after
    if (keep0 & long0).any() or (keep1 & long1).any():
        return "long way"
    if keep0.any() and keep1.any():
        return "other segment"
    kept = keep0 if keep0.any() else keep1
    dropped = status1 if keep0.any() else status0
    from musclesim.geometry.path import INSIDE_RADIUS

    return "inside radius" if (dropped[kept] == INSIDE_RADIUS).any() else "on/off"


def run(setup: Setup) -> dict:
    """Per muscle: jump share, largest jump (m) and the count of each cause."""
    import jax
    import jax.numpy as jnp

    block = setup.block
    length = jax.jit(jax.vmap(block.lengths))
    states = jax.jit(jax.vmap(block.segment_states))
    a, b = jnp.asarray(setup.start), jnp.asarray(setup.moved)
    jump = np.abs(np.asarray(length(b)) - np.asarray(length(a)))  # [n, m]
    sa = [np.asarray(x) for x in states(a)]
    sb = [np.asarray(x) for x in states(b)]
    out = {}
    for j, i in enumerate(block.muscle_index):
        hits = np.flatnonzero(jump[:, j] > setup.threshold_m)
        causes = dict.fromkeys(CAUSES, 0)
        for h in hits:
            before = tuple(x[h, j] for x in sa)
            after = tuple(x[h, j] for x in sb)
            causes[_classify(before, after)] += 1
        out[setup.model.muscles[i]] = {
            "share": float(len(hits) / len(jump)),
            "largest_m": float(jump[:, j].max()),
            **causes,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="opencap_jump")
    parser.add_argument("--poses", type=int, default=20000)
    parser.add_argument("--step-deg", type=float, default=0.5)
    parser.add_argument("--threshold-mm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup = build(
        args.model,
        args.poses,
        step_deg=args.step_deg,
        threshold_mm=args.threshold_mm,
        seed=args.seed,
    )
    result = run(setup)
    print(
        f"{args.model}: {args.poses} poses, each moved {args.step_deg} deg; jumps over "
        f"{args.threshold_mm} mm by cause"
    )
    print(
        f"{'muscle':10s} {'share %':>8s} {'largest mm':>10s} "
        + " ".join(f"{c:>13s}" for c in CAUSES)
    )
    for m, r in result.items():
        print(
            f"{m:10s} {100 * r['share']:8.3f} {1e3 * r['largest_m']:10.1f} "
            + " ".join(f"{r[c]:13d}" for c in CAUSES)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
