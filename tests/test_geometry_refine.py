"""Refinement of excluded regions (musclesim.geometry.fitting.refine): the subdivision logic on a
synthetic error function (no OpenSim), the merge, and a refined file's round trip."""

import json

import numpy as np
import pytest

from musclesim.geometry.fitting.refine import _write_regions, merge_boxes, refine_regions
from musclesim.geometry.io import load_geometry_dataset, model_from_dataset

ERRATIC = (np.array([0.20, 0.50]), np.array([0.35, 0.70]))


def _fake_error(q):
    lo, hi = ERRATIC
    inside = np.all((q >= lo) & (q <= hi), axis=1)
    return np.where(inside, 5e-3, 1e-5)


def _covered(q, boxes):
    hit = np.zeros(len(q), dtype=bool)
    for a, b in boxes:
        hit |= np.all((q >= a) & (q <= b), axis=1)
    return hit


def test_refined_regions_cover_the_erratic_box_and_leave_clean_space_out():
    root = (np.array([0.0, 0.0]), np.array([0.6, 1.0]))
    leaves, stats = refine_regions(
        _fake_error, [root], np.ones(2), samples_per_leaf=16, depth=10, seed=3
    )
    boxes = merge_boxes(leaves)
    assert stats["leaves"] == len(leaves) > 0
    assert len(boxes) < len(leaves)
    rng = np.random.default_rng(0)
    lo, hi = ERRATIC
    q_bad = lo + rng.random((5000, 2)) * (hi - lo)
    assert _covered(q_bad, boxes).all()
    q = rng.random((20000, 2)) * root[1]
    # Leaves at depth 10 are 1/32 of the root's sides: clean space farther than one leaf from
    # the erratic box is given back, and the union is at most a little larger than the box.
    margin = np.array([0.6, 1.0]) / 32
    far = ~np.all((q >= lo - margin) & (q <= hi + margin), axis=1)
    assert not _covered(q[far], boxes).any()
    share = _covered(q, boxes).mean()
    assert share < 1.6 * np.prod(hi - lo) / 0.6


def test_a_clean_root_is_given_back_and_nested_roots_are_skipped():
    root = (np.array([0.5, 0.0]), np.array([1.0, 1.0]))  # clean
    inner = (np.array([0.6, 0.1]), np.array([0.7, 0.2]))
    leaves, stats = refine_regions(_fake_error, [root, inner], np.ones(2), depth=6, seed=0)
    assert leaves == []
    assert stats["roots"] == 1


def test_merge_boxes_keeps_the_union():
    quads = [
        (np.array([0.0, 0.0]), np.array([0.5, 0.5])),
        (np.array([0.5, 0.0]), np.array([1.0, 0.5])),
        (np.array([0.0, 0.5]), np.array([0.5, 1.0])),
        (np.array([0.5, 0.5]), np.array([1.0, 1.0])),
        (np.array([0.1, 0.1]), np.array([0.2, 0.2])),  # inside
        (np.array([2.0, 2.0]), np.array([3.0, 3.0])),  # apart
    ]
    out = merge_boxes(quads)
    assert len(out) == 2
    got = sorted((tuple(a), tuple(b)) for a, b in out)
    assert got == [((0.0, 0.0), (1.0, 1.0)), ((2.0, 2.0), (3.0, 3.0))]


def test_refined_file_loads_and_keeps_its_other_variables(tmp_path):
    from musclesim.geometry.io import write_geometry
    from musclesim.geometry.path_io import strip_paths

    # iliacus_l's polynomial, with its excluded regions (the shipped file evaluates it from its
    # exact path instead)
    ds = strip_paths(load_geometry_dataset("opencap_jump"))
    assert "arm_correction_coefficient" in ds
    muscles = [str(m) for m in ds["muscle"].values]
    i = muscles.index("iliacus_l")
    cols = [int(c) for c in ds["input_coordinate"].values[i] if c >= 0]
    dlo = ds["domain_lower"].values[i, cols]
    dhi = ds["domain_upper"].values[i, cols]
    mid = 0.5 * (dlo + dhi)
    region = (mid - 0.05, mid + 0.05)
    settings = {
        "muscles": ["iliacus_l"],
        "tolerance_m": 1e-3,
        "samples_per_leaf": 8,
        "depth": 1,
        "seed": 0,
        "per_muscle": {
            "iliacus_l": {
                "regions_before": int(ds["excluded_count"].values[i]),
                "regions_after": 1,
                "excluded_share_before": 0.2,
                "excluded_share_after": 0.01,
            }
        },
    }
    out = _write_regions(ds, {i: [region]}, {i: cols}, settings)
    path = write_geometry(out, tmp_path / "refined.nc")
    back = load_geometry_dataset(path)
    changed = {"excluded_lower", "excluded_upper", "excluded_count", "domain_cuts"}
    for v in ds.data_vars:
        if v not in changed:
            assert back[v].equals(ds[v]), v
    assert int(back["excluded_count"].values[i]) == 1
    j = muscles.index("iliacus_r")
    n = int(ds["excluded_count"].values[j])
    np.testing.assert_array_equal(
        back["excluded_lower"].values[j, :n], ds["excluded_lower"].values[j, :n]
    )
    assert "refined" in str(back["domain_cuts"].values[i])
    assert json.loads(back.attrs["fit_settings"])["refined"][-1]["muscles"] == ["iliacus_l"]
    model = model_from_dataset(back)
    assert model.arm_correction_pairs == model_from_dataset(ds).arm_correction_pairs
    names = [str(c) for c in ds["coordinate"].values]
    q = {c: np.zeros(2) for c in names}
    for k, c in enumerate(cols):
        q[names[c]] = np.array([mid[k], mid[k] + 0.2])
    inside = np.asarray(model.in_domain(q))[:, i]
    assert not inside[0]


@pytest.mark.slow
@pytest.mark.opensim
def test_refine_domain_cli_on_one_muscle(tmp_path, data_dir):
    from musclesim.cli import main
    from musclesim.geometry.io import resolve_model_path, write_geometry
    from musclesim.geometry.path_io import strip_paths

    osim = data_dir / "models" / "OpenCap_LaiUhlrich2022_jump_subject_scaled.osim"
    shipped = resolve_model_path("opencap_jump")
    # glmax2_l has an exact path in the shipped file: refused there ...
    refused = ["refine-domain", str(osim), "--into", str(shipped), "--muscles", "glmax2_l"]
    assert main([*refused, "--out", str(tmp_path / "x.nc")]) == 2
    assert not (tmp_path / "x.nc").exists()
    # ... and refined in the file without it (its polynomial, with excluded regions)
    polynomial = write_geometry(strip_paths(load_geometry_dataset(shipped)), tmp_path / "p.nc")
    out = tmp_path / "refined.nc"
    rc = main(
        [
            "refine-domain",
            str(osim),
            "--into",
            str(polynomial),
            "--out",
            str(out),
            "--muscles",
            "glmax2_l",
            "--depth",
            "3",
            "--samples-per-leaf",
            "8",
            "--recheck-density",
            "2000",
        ]
    )
    assert rc == 0
    ds = load_geometry_dataset(out)
    rec = json.loads(ds.attrs["fit_settings"])["refined"][-1]
    assert rec["muscles"] == ["glmax2_l"] and rec["depth"] == 3
    assert rec["per_muscle"]["glmax2_l"]["excluded_share_after"] <= (
        rec["per_muscle"]["glmax2_l"]["excluded_share_before"] + 1e-9
    )


def test_within_restricts_the_tested_poses():
    root = (np.array([0.0, 0.0]), np.array([0.6, 1.0]))
    leaves, _ = refine_regions(
        _fake_error,
        [root],
        np.ones(2),
        samples_per_leaf=16,
        depth=10,
        within=lambda q: q[:, 0] <= 0.3,
        seed=5,
    )
    boxes = merge_boxes(leaves)
    rng = np.random.default_rng(1)
    lo, hi = ERRATIC
    q_bad = lo + rng.random((5000, 2)) * (hi - lo)
    assert _covered(q_bad[q_bad[:, 0] <= 0.3], boxes).all()
    q = rng.random((20000, 2)) * root[1]
    assert not _covered(q[q[:, 0] > 0.3 + 0.6 / 32], boxes).any()
