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

**Beyond the model's range** (``--osim FILE.osim --muscles hamstrings calf``; any muscle, with
or without an exact path): OpenSim's own lengths along one-coordinate sweeps across each part
of the physiological box (:data:`musclesim.geometry.fitting.fit.SAMPLING_BOXES`) that lies
outside the ``.osim``'s advisory range, e.g. knee flexion 115 -> 160 deg in
``Rajagopal2016.osim`` (range 0-120), starting 5 deg inside the range so the crossing is seen.
Each sweep (``step_deg``) starts from a uniform random pose of the other coordinates in the
box. Per muscle and coordinate it reports the largest length step between neighbouring samples
(a jump is a step over ``threshold_mm``), the largest change of the moment arm -dL/dq between
neighbouring steps (a kink: a wrap that engages or lets go), and the sweeps on which the
moment arm changes sign in the extension. A sane path has no jump and kinks no larger than
those inside the range.
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


@dataclass
class Sweep:
    coordinate: str
    values: np.ndarray  # [k] rad along the sweep
    inside: np.ndarray  # [k] bool: inside the model's range
    lengths: np.ndarray  # [pose, k, muscle] OpenSim lengths (m)
    muscles: list[str]


def opensim_sweeps(
    osim_path,
    muscles,
    *,
    n_poses: int = 12,
    step_deg: float = 0.25,
    margin_deg: float = 5.0,
    seed: int = 0,
) -> list[Sweep]:
    """OpenSim lengths along sweeps across every extension of the physiological box beyond the
    model's range (module doc), for the coordinates ``muscles`` cross."""
    from musclesim.core.groups import expand_muscles
    from musclesim.geometry.fitting.fit import OpenSimSampler, detect_dependencies, sampling_box

    sampler = OpenSimSampler(osim_path)
    coords = sampler.coordinates
    names = [n for n, r in coords.items() if r.rotational and not r.dependent]
    names = [n for n in names if not coords[n].on_ground_joint and not coords[n].locked]
    wanted = expand_muscles(list(muscles), sampler.muscles)
    box = sampling_box(coords, names, box="physiological")
    deps = detect_dependencies(sampler, wanted, names, box, seed=seed)
    rng = np.random.default_rng(seed)
    step = math.radians(step_deg)
    margin = math.radians(margin_deg)
    out = []
    for c in names:
        crossing = [m for m in wanted if c in deps[m]]
        lo, hi = box[c]
        rec = coords[c]
        ends = []
        if lo < rec.lower - 1e-6:
            ends.append((lo, rec.lower + margin))
        if hi > rec.upper + 1e-6:
            ends.append((rec.upper - margin, hi))
        if not crossing:
            continue
        others = sorted({o for m in crossing for o in deps[m]} - {c})
        for a, b in ends:
            values = np.arange(a, b + step / 2, step)
            start = {o: rng.uniform(*box[o], n_poses) for o in others}
            poses = {o: np.repeat(v, len(values)) for o, v in start.items()}
            poses[c] = np.tile(values, n_poses)
            lengths = sampler.lengths(poses, crossing).reshape(n_poses, len(values), -1)
            inside = (values >= rec.lower) & (values <= rec.upper)
            out.append(Sweep(c, values, inside, lengths, crossing))
    return out


def sweep_report(sweeps: list[Sweep], threshold_mm: float = 1.0) -> dict:
    """Per (muscle, coordinate): the largest length step (m) and moment-arm change between
    neighbouring steps (m) inside the model's range and in the extension, the number of jumps
    (steps over ``threshold_mm``) and of sweeps whose moment arm changes sign in the
    extension."""
    out: dict[tuple[str, str], dict] = {}
    for s in sweeps:
        dq = np.diff(s.values)
        dl = np.diff(s.lengths, axis=1)  # [pose, k-1, muscle]
        arm = -dl / dq[None, :, None]
        darm = np.abs(np.diff(arm, axis=1))  # [pose, k-2, muscle]
        # a step (or an arm change) belongs to the extension when either end lies outside
        ext_step = ~(s.inside[1:] & s.inside[:-1])
        ext_arm = ~(s.inside[2:] & s.inside[1:-1] & s.inside[:-2])
        for j, m in enumerate(s.muscles):
            r = out.setdefault(
                (m, s.coordinate),
                dict(
                    step_in=0.0, step_out=0.0, kink_in=0.0, kink_out=0.0, jumps=0, flips=0, sweeps=0
                ),
            )
            step = np.abs(dl[:, :, j])
            r["step_in"] = max(r["step_in"], float(step[:, ~ext_step].max(initial=0.0)))
            r["step_out"] = max(r["step_out"], float(step[:, ext_step].max(initial=0.0)))
            r["kink_in"] = max(r["kink_in"], float(darm[:, ~ext_arm, j].max(initial=0.0)))
            r["kink_out"] = max(r["kink_out"], float(darm[:, ext_arm, j].max(initial=0.0)))
            r["jumps"] += int((step[:, ext_step] > threshold_mm * 1e-3).sum())
            a_ext = arm[:, ext_step, j]
            r["flips"] += int((np.sign(a_ext).min(axis=1) != np.sign(a_ext).max(axis=1)).sum())
            r["sweeps"] += a_ext.shape[0]
    return out


def _print_sweeps(report: dict, threshold_mm: float) -> None:
    print(
        f"{'muscle':10s} {'coordinate':16s} {'step in/out mm':>16s} "
        f"{'arm change in/out mm':>22s} {'jumps>' + str(threshold_mm):>9s} {'arm sign flips':>15s}"
    )
    for (m, c), r in report.items():
        print(
            f"{m:10s} {c:16s} {1e3 * r['step_in']:7.3f}/{1e3 * r['step_out']:<8.3f} "
            f"{1e3 * r['kink_in']:10.3f}/{1e3 * r['kink_out']:<11.3f} {r['jumps']:9d} "
            f"{r['flips']:7d} of {r['sweeps']}"
        )


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osim", default=None, help="sweep OpenSim's paths of this .osim")
    parser.add_argument("--muscles", nargs="+", default=["hamstrings", "calf"])
    parser.add_argument("--sweep-poses", type=int, default=12)
    parser.add_argument("--sweep-step-deg", type=float, default=0.25)
    parser.add_argument("--model", default="opencap_jump")
    parser.add_argument("--poses", type=int, default=20000)
    parser.add_argument("--step-deg", type=float, default=0.5)
    parser.add_argument("--threshold-mm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.osim is not None:
        sweeps = opensim_sweeps(
            args.osim,
            args.muscles,
            n_poses=args.sweep_poses,
            step_deg=args.sweep_step_deg,
            seed=args.seed,
        )
        print(
            f"{args.osim}: {args.sweep_poses} sweeps per extension beyond the model's range, "
            f"step {args.sweep_step_deg} deg; "
            + ", ".join(
                f"{s.coordinate} {math.degrees(s.values[0]):.0f}..{math.degrees(s.values[-1]):.0f}"
                for s in sweeps
            )
        )
        _print_sweeps(sweep_report(sweeps, args.threshold_mm), args.threshold_mm)
        return 0
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
