"""Malformed and hostile inputs, as a new user or a slip of the keyboard produces them.

Each case is refused with one line on stderr that names the file or the field, before any long
computation; the inputs' bytes (sha256) are unchanged afterwards, and the folders hold no
output and no temporary file. Small inputs and early refusals keep the module fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from musclesim import load_model
from musclesim.cli import main
from musclesim.core.errors import InputError, OutOfDomainError
from musclesim.core.io import MODELS_DIR, atomic_path, check_output, sha256_file
from musclesim.motion.read import read_motion
from musclesim.motion.storage import (
    TRUNCATION_JUMP_FACTOR,
    TRUNCATION_MIN_ROWS,
    _parse_storage,
    last_row_ratio,
    write_storage,
)
from musclesim.training.capacity import force_from_knee_flexor_torque, range_test_strain

SPRINT = "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot"
TREADMILL = "kinematics/nimblephysics_hamner2013_running/run300_ik.mot"
ATHLETE = MODELS_DIR / "athletes" / "example_grade2_bflh.toml"
DTD_XML = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">]>
<OpenSimDocument Version="40000"><Model name="m"/></OpenSimDocument>
"""


def _state(folder: Path, inputs) -> tuple[list[str], dict[str, str]]:
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    return files, {str(p): sha256_file(p) for p in inputs if Path(p).is_file()}


def refused(argv, capsys, *, folder: Path, inputs, needle: str) -> str:
    """Run the CLI and check the refusal: exit 2, one line naming ``needle``, inputs and the
    folder as they were."""
    before = _state(folder, inputs)
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert needle in err, err
    assert _state(folder, inputs) == before
    return err


@pytest.fixture(scope="module")
def small_motion(data_dir, tmp_path_factory):
    """The first 40 frames of the 9 m/s sprint (radians, OpenSim storage)."""
    folder = tmp_path_factory.mktemp("motion")
    motion = read_motion(data_dir / SPRINT).isel(time=slice(0, 40))
    return write_storage(motion, folder / "sprint40.mot")


@pytest.fixture
def work(tmp_path, small_motion):
    path = tmp_path / "m.mot"
    shutil.copy(small_motion, path)
    return tmp_path, path


def _simulate(motion, *extra):
    return ["simulate", "--model", "sprinter_ja1", "--motion", motion, "--muscles", "bflh_r",
            "--tendon", "rigid", "--excitation", "sprinting", *extra]  # fmt: skip


# --- outputs that would replace an input ---------------------------------------------------


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "relative path"])
def test_simulate_out_that_is_the_motion_is_refused(work, capsys, how, monkeypatch):
    folder, motion = work
    out = motion
    if how == "symlink":
        out = folder / "link.nc"
        out.symlink_to(motion)
    elif how == "hard link":
        out = folder / "hard.nc"
        os.link(motion, out)
    elif how == "relative path":
        monkeypatch.chdir(folder)
        out = Path("sub/../m.mot")
        (folder / "sub").mkdir()
    refused(_simulate(motion, "--out", out), capsys, folder=folder, inputs=[motion],
            needle="is the input")  # fmt: skip


def test_rank_out_that_is_the_athlete_is_refused(tmp_path, capsys):
    athlete = tmp_path / "a.toml"
    shutil.copy(ATHLETE, athlete)
    refused(["rank", "--athlete", athlete, "--date", "2026-11-23", "--out", athlete], capsys,
            folder=tmp_path, inputs=[athlete], needle="is the input")  # fmt: skip


def test_plot_out_that_is_the_result_is_refused(tmp_path, capsys):
    result = tmp_path / "r.nc"
    result.write_bytes(b"CDF\x01 stands in for a result")
    refused(["plot", result, "--out", result], capsys, folder=tmp_path, inputs=[result],
            needle="is the input")  # fmt: skip


def test_plan_output_folder_holding_an_input_name_is_refused(tmp_path, capsys):
    metrics = tmp_path / "metrics.nc"
    metrics.write_bytes(b"CDF\x01 stands in for metrics")
    argv = ["plan", "--athlete", ATHLETE, "--weeks", "2", "--metrics", metrics, "--out", tmp_path]
    refused(argv, capsys, folder=tmp_path, inputs=[metrics], needle="would replace the input")


def test_table_export_over_the_table_is_refused(tmp_path, capsys):
    table = tmp_path / "t.nc"
    table.write_bytes(b"CDF\x01 stands in for a table")
    refused(["table", "export", table, "--html", table], capsys, folder=tmp_path,
            inputs=[table], needle="is the input")  # fmt: skip


# --- outputs that cannot be written, found before computing -------------------------------


def test_out_that_is_a_folder_is_refused(work, capsys):
    folder, motion = work
    (folder / "result.nc").mkdir()
    refused(_simulate(motion, "--out", folder / "result.nc"), capsys, folder=folder,
            inputs=[motion], needle="is an existing folder")  # fmt: skip


def test_out_below_a_file_is_refused(work, capsys):
    folder, motion = work
    refused(_simulate(motion, "--out", motion / "r.nc"), capsys, folder=folder, inputs=[motion],
            needle="is a file")  # fmt: skip


@pytest.mark.parametrize("place", ["/proc", "/sys"])
def test_out_in_a_folder_that_takes_no_files_is_refused(work, capsys, place):
    # the kernel's pseudo file systems refuse new files even to root, unlike chmod
    if not Path(place).is_dir():
        pytest.skip(f"{place} absent")
    folder, motion = work
    refused(_simulate(motion, "--out", f"{place}/musclesim-result.nc"), capsys, folder=folder,
            inputs=[motion], needle="cannot write in")  # fmt: skip


def test_plan_out_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "plan"
    out.write_text("a file where the output folder should be\n")
    refused(["plan", "--athlete", ATHLETE, "--weeks", "2", "--out", out], capsys, folder=tmp_path,
            inputs=[out], needle="is an existing file")  # fmt: skip


def test_check_output_accepts_a_new_file_and_creates_nothing(tmp_path):
    assert check_output(tmp_path / "new" / "deeper" / "r.nc") == tmp_path / "new/deeper/r.nc"
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "r.nc") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


# --- interrupts during a write -------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, xarray as xr
    from musclesim.core.io import write_netcdf_atomic
    ds = xr.Dataset({"x": (("a",), np.random.default_rng(0).random(int(sys.argv[2])))})
    ds["x"].encoding = {"zlib": True, "complevel": 9}  # slow on purpose: a long write
    print("ready", flush=True)
    write_netcdf_atomic(ds, sys.argv[1])
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_netcdf_write_leaves_nothing_and_exits(tmp_path, sig):
    folder = tmp_path / "out"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder / "r.nc"), "4000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in folder.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "the write never began"
        time.sleep(0.005)
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=120)  # a hang here is the deadlock this guards against
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the process hung after the signal")
    out, err = proc.communicate()
    assert "done" not in out, "the signal arrived after the write; the test proves nothing"
    assert code != 0
    assert sorted(folder.iterdir()) == []
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err


# --- motion files cut short -----------------------------------------------------------------


def test_motion_without_final_newline_is_refused(work, capsys):
    folder, motion = work
    motion.write_bytes(motion.read_bytes().rstrip(b"\n"))
    refused(_simulate(motion, "--out", folder / "r.nc"), capsys, folder=folder, inputs=[motion],
            needle="no line ending")  # fmt: skip


def _csv_from(motion_path: Path, path: Path, *, rows: int, suffix_of=None) -> Path:
    """A ``.csv`` motion in degrees from an OpenSim storage file (first ``rows`` rows)."""
    ds = read_motion(motion_path).isel(time=slice(0, rows))
    names = [str(c) for c in ds["coordinate"].values]
    units = [str(u) for u in ds["unit"].values]
    suffix_of = suffix_of or {}
    header = ["time"] + [
        n + suffix_of.get(n, "_m" if u == "m" else "_deg")
        for n, u in zip(names, units, strict=True)
    ]
    q = ds["q"].values.copy()
    for j, u in enumerate(units):
        if u == "rad":
            q[:, j] = np.degrees(q[:, j])
    lines = [",".join(header)]
    lines += [
        ",".join([f"{t:.6f}"] + [f"{v:.4f}" for v in row])
        for t, row in zip(ds["time"].values, q, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _cut_last_value(path: Path, column: str, *, sep: str) -> tuple[str, str]:
    """Replace the last row's value of ``column`` by its first character (39.30 -> "3")."""
    lines = path.read_text().splitlines()
    label_line = next(i for i, ln in enumerate(lines) if column in ln.replace(",", " ").split())
    j = lines[label_line].replace(",", " ").split().index(column)
    row = lines[-1].split(sep) if sep == "," else lines[-1].split()
    old = row[j]
    row[j] = old.lstrip("-")[0]
    lines[-1] = (sep if sep == "," else "\t").join(row)
    path.write_text("\n".join(lines) + "\n")
    return old, row[j]


@pytest.mark.parametrize("kind", [".csv", ".mot"])
def test_last_value_cut_short_is_refused_naming_row_and_column(data_dir, tmp_path, capsys, kind):
    # the first 94 rows of the sprint end with the right knee at 39.95 degrees of flexion
    rows = 94
    src = tmp_path / "src.mot"
    write_storage(read_motion(data_dir / SPRINT).isel(time=slice(0, rows)), src)
    if kind == ".csv":
        motion = _csv_from(src, tmp_path / "m.csv", rows=rows)
        column = "knee_angle_r_deg"
        old, new = _cut_last_value(motion, column, sep=",")
    else:
        motion = tmp_path / "m.mot"
        ds = read_motion(src)
        rotational = ds["unit"].values == "rad"
        ds["q"].values[:, rotational] = np.degrees(ds["q"].values[:, rotational])
        write_storage(ds, motion)
        motion.write_text(motion.read_text().replace("inDegrees=no", "inDegrees=yes"))
        column = "knee_angle_r"
        old, new = _cut_last_value(motion, column, sep="\t")
    src.unlink()
    assert abs(float(old) - float(new)) > 5.0  # degrees: a cut that matters
    err = refused(_simulate(motion, "--out", tmp_path / "r.nc"), capsys, folder=tmp_path,
                  inputs=[motion], needle=column)  # fmt: skip
    n_lines = len(motion.read_text().splitlines())
    assert f"line {n_lines}" in err and "cut short" in err


def test_truncation_rule_leaves_every_measured_motion_alone(data_dir):
    """The rule's margin: every measured motion of the shared kinematics, each row from the
    first the rule applies to taken in turn as the last, stays well below the factor (the
    largest is 5.0)."""
    worst = 0.0
    files = sorted((data_dir / "kinematics").rglob("*.mot"))
    checked = 0
    for path in files:
        header, labels, data = _parse_storage(path)
        if "inDegrees" not in header:
            continue  # force-plate data, not coordinates
        checked += 1
        for end in range(TRUNCATION_MIN_ROWS + 1, data.shape[0] + 1):
            ratio = last_row_ratio(data[:end, 1:], data[:end, 0])
            if np.isfinite(ratio).any():
                worst = max(worst, float(np.nanmax(ratio)))
    assert checked >= 8
    assert worst < TRUNCATION_JUMP_FACTOR / 1.5, worst


def test_trc_without_final_newline_is_refused(data_dir, tmp_path):
    from musclesim.motion.markers import read_markers

    src = next((data_dir / "kinematics").rglob("*.trc"), None)
    if src is None:
        pytest.skip("no .trc in the shared data")
    path = tmp_path / "cut.trc"
    path.write_bytes(src.read_bytes().rstrip(b"\r\n")[:-3])
    with pytest.raises(InputError, match="no line ending"):
        read_markers(path)


# --- inputs of the wrong kind ---------------------------------------------------------------


def test_folder_given_as_motion_says_folder(tmp_path, capsys):
    refused(_simulate(tmp_path), capsys, folder=tmp_path, inputs=[], needle="is a folder")


def test_rotational_column_labelled_metres_is_refused_by_simulate(work, capsys):
    folder, motion = work
    csv = _csv_from(motion, folder / "m.csv", rows=40, suffix_of={"knee_angle_r": "_m"})
    refused(_simulate(csv, "--out", folder / "r.nc"), capsys, folder=folder,
            inputs=[motion, csv], needle="knee_angle_r_m")  # fmt: skip


def test_grf_xml_with_a_dtd_is_refused(work, capsys):
    folder, motion = work
    grf = folder / "grf.xml"
    grf.write_text(DTD_XML.replace('<Model name="m"/>', "<ExternalLoads/>"))
    args = _simulate(motion, "--out", folder / "r.nc", "--grf", grf)
    args[args.index("sprinting")] = "static_optimization"
    refused(args, capsys, folder=folder, inputs=[motion, grf], needle="refused unsafe XML")


def test_fit_geometry_parses_the_osim_safely_before_opensim(tmp_path, capsys):
    osim = tmp_path / "hostile.osim"
    osim.write_text(DTD_XML)
    refused(["fit-geometry", osim, "--name", "x", "--out", tmp_path / "x.nc"], capsys,
            folder=tmp_path, inputs=[osim], needle="refused unsafe XML")  # fmt: skip


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        main(["--debug", *[str(a) for a in _simulate(tmp_path)]])


# --- defaults that fit the motion -----------------------------------------------------------


def test_treadmill_run_without_speed_is_refused_with_the_reason(data_dir, tmp_path, capsys):
    motion = data_dir / TREADMILL
    err = refused(["simulate", "--model", "hamner2013_subject01", "--motion", motion,
                   "--out", tmp_path / "r.nc"], capsys, folder=tmp_path, inputs=[motion],
                  needle="cannot be measured")  # fmt: skip
    assert "treadmill" in err and "--speed" in err


def test_sprint_above_template_speed_needs_the_maximal_speed(data_dir, tmp_path, capsys):
    motion = data_dir / SPRINT
    err = refused(["simulate", "--model", "sprinter_ja1", "--motion", motion, "--muscles",
                   "bflh_r"], capsys, folder=tmp_path, inputs=[motion],
                  needle="--max-speed")  # fmt: skip
    assert "measured from the pelvis" in err


def test_speed_with_an_explicit_excitation_is_refused(work, capsys):
    folder, motion = work
    refused(_simulate(motion, "--speed", "3"), capsys, folder=folder, inputs=[motion],
            needle="speed/max_speed given with excitation")  # fmt: skip


def test_running_speed_from_an_overground_pelvis(data_dir):
    from musclesim.excitation.templates import overground_speed

    # Dorn 2012 trial run0900cms: 9 m/s by its name; the pelvis covers 12 m in 1.3 s
    speed = overground_speed(read_motion(data_dir / SPRINT))
    assert 8.5 < speed < 10.0
    assert overground_speed(read_motion(data_dir / TREADMILL)) < 0.1


# --- poses outside the fitted geometry ------------------------------------------------------

#: The knee flexion (deg) where the narrowed model's bflh_r domain ends: the sprint's swing and
#: every running speed pass it (the 9 m/s sprint's first 40 frames reach 120 deg).
NARROW_KNEE_DEG = 60.0


@pytest.fixture(scope="module")
def narrow_model(tmp_path_factory):
    """sprinter_ja1 with bflh_r's stated knee domain cut to 0-60 deg flexion (its polynomial
    unchanged), standing in for a model fitted over too small a box."""
    ds = xr.load_dataset(MODELS_DIR / "sprinter_ja1.nc")
    where = {"muscle": "bflh_r", "coordinate": "knee_angle_r"}
    ds["domain_upper"].loc[where] = np.radians(NARROW_KNEE_DEG)
    path = tmp_path_factory.mktemp("model") / "narrow.nc"
    ds.to_netcdf(path)
    return path


@pytest.fixture(scope="module")
def no_hip_extension_model(tmp_path_factory):
    """sprinter_ja1 with bflh_r's stated hip-flexion domain starting at -10 deg: running's
    hip extension (to -33 deg) leaves it, the assessments' test poses (hip 0 to 90 deg) do
    not."""
    ds = xr.load_dataset(MODELS_DIR / "sprinter_ja1.nc")
    where = {"muscle": "bflh_r", "coordinate": "hip_flexion_r"}
    ds["domain_lower"].loc[where] = np.radians(-10.0)
    path = tmp_path_factory.mktemp("model") / "no_hip_extension.nc"
    ds.to_netcdf(path)
    return path


def _narrow_simulate(motion, model, *extra):
    argv = _simulate(motion, *extra)
    argv[argv.index("sprinter_ja1")] = model
    return argv


def test_simulate_outside_the_geometry_is_refused_naming_frames(work, narrow_model, capsys):
    folder, motion = work
    err = refused(_narrow_simulate(motion, narrow_model, "--out", folder / "r.nc"), capsys,
                  folder=folder, inputs=[motion, narrow_model],
                  needle="outside the fitted domain")  # fmt: skip
    knee = np.degrees(read_motion(motion)["q"].sel(coordinate="knee_angle_r").values)
    n = int((knee > NARROW_KNEE_DEG).sum())
    assert "knee_angle_r = " in err and f"at {n} pose(s) (frames " in err
    assert f"outside [0.0000, {np.radians(NARROW_KNEE_DEG):.4f}] rad for bflh_r" in err
    assert "--out-of-domain clamp" in err


def test_simulate_clamp_flags_each_sample_and_says_how_many(work, narrow_model, capsys):
    folder, motion = work
    out = folder / "r.nc"
    argv = _narrow_simulate(motion, narrow_model, "--out-of-domain", "clamp", "--out", out)
    argv[argv.index("sprinting")] = "0.5"  # 40 frames hold no stride for the template
    assert main([str(a) for a in argv]) == 0
    printed = capsys.readouterr().out
    knee = np.degrees(read_motion(motion)["q"].sel(coordinate="knee_angle_r").values)
    expected = knee > NARROW_KNEE_DEG
    ds = xr.load_dataset(out)
    flag = ds["out_of_domain"].sel(muscle="bflh_r").values
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(flag, expected)
    assert ds.attrs["out_of_domain_policy"] == "clamp"
    assert ds.attrs["out_of_domain_samples"] == expected.sum()
    assert f"out-of-domain samples: {expected.sum()} muscle-samples at {expected.sum()} " in printed
    assert np.all(np.isfinite(ds["mtu_length"].values))


@pytest.mark.parametrize(
    "command",
    [
        ["rank", "--date", "2026-11-23", "--out", "{folder}/r.csv"],
        ["plan", "--weeks", "2", "--out", "{folder}/plan"],
        ["table", "build", "--intensities", "2", "--profiles", "1", "--out", "{folder}/t.nc"],
    ],
    ids=["rank", "plan", "table build"],
)
def test_drills_outside_the_geometry_are_refused_before_solving(
    tmp_path, narrow_model, capsys, command
):
    argv = [a.format(folder=tmp_path) for a in command]
    argv += ["--athlete", ATHLETE, "--model", narrow_model]
    err = refused(argv, capsys, folder=tmp_path, inputs=[ATHLETE, narrow_model],
                  needle="outside the fitted domain")  # fmt: skip
    assert "motions (" in err and "knee_angle_r = " in err and "for bflh_r" in err


@pytest.mark.slow
def test_rank_and_table_clamp_count_the_samples_in_their_headers(
    tmp_path, no_hip_extension_model, capsys
):
    """With --out-of-domain clamp the ranking CSV's header, its out_of_domain column, the
    table's variable and its HTML page say how many samples left the fitted geometry."""
    model = no_hip_extension_model
    common = ["--athlete", ATHLETE, "--model", model, "--out-of-domain", "clamp"]
    csv = tmp_path / "r.csv"
    argv = ["rank", "--date", "2026-11-23", "--drills", "running", "--no-max-safe", "--out", csv]
    assert main([str(a) for a in argv + common]) == 0
    lines = csv.read_text().splitlines()
    header = next(x for x in lines if x.startswith("# out_of_domain: "))
    counted = int(header.split()[2])
    assert counted > 0 and "clamped onto its box" in header and "--out-of-domain clamp" in header
    columns = next(x for x in lines if not x.startswith("#")).split(",")
    row = next(x for x in lines if x.startswith("1,")).split(",")
    assert 0 < int(row[columns.index("out_of_domain")]) <= counted
    table = tmp_path / "t.nc"
    argv = ["table", "build", "--drills", "running", "--intensities", "2", "--profiles", "1"]
    assert main([str(a) for a in argv + common + ["--out", table]]) == 0
    printed = capsys.readouterr().out
    ds = xr.load_dataset(table)
    assert ds["out_of_domain"].dims == ("drill", "intensity")
    assert int(ds["out_of_domain"].sum()) > 0 and "clamped onto its box" in printed
    page = tmp_path / "t.html"
    assert main(["table", "export", str(table), "--html", str(page)]) == 0
    assert f"Geometry: {ds.attrs['out_of_domain']}" in page.read_text()


# --- already refused: kept that way ---------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("nRows=40", "nRows=41"), "declares 41 rows"),
        (lambda t: t.replace("inDegrees=no", "inDegrees=maybe"), "inDegrees"),
        (lambda t: t.replace("endheader", "end"), "endheader"),
    ],
    ids=["row count", "unit flag", "no endheader"],
)
def test_malformed_storage_headers_stay_refused(work, capsys, edit, needle):
    folder, motion = work
    motion.write_text(edit(motion.read_text()))
    refused(_simulate(motion, "--out", folder / "r.nc"), capsys, folder=folder, inputs=[motion],
            needle=needle)  # fmt: skip


def test_unknown_motion_extension_stays_refused(tmp_path, capsys):
    motion = tmp_path / "m.xlsx"
    motion.write_text("time\n")
    refused(_simulate(motion), capsys, folder=tmp_path, inputs=[motion],
            needle="unknown motion file extension")  # fmt: skip


def test_assessment_pose_outside_the_geometry_follows_the_policy():
    """A pain-free range or strength test at an angle beyond the model's fitted geometry is
    refused under the commands' default, naming the test; clamp takes the bounded extension."""
    geometry = load_model("sprinter_ja1")  # bflh_r fitted to 120 deg of hip flexion
    with pytest.raises(OutOfDomainError, match=r"range test slr at 150 deg.*hip_flexion_r"):
        range_test_strain(geometry, "bflh_r", "slr", 150.0, out_of_domain="refuse")
    inside = range_test_strain(geometry, "bflh_r", "slr", 110.0, out_of_domain="refuse")
    beyond = range_test_strain(geometry, "bflh_r", "slr", 150.0, out_of_domain="clamp")
    assert 0 < inside < beyond < 1  # bounded, longer than at the edge of the fit
    with pytest.raises(OutOfDomainError, match=r"knee-flexor strength test at hip 150 deg"):
        force_from_knee_flexor_torque(
            geometry,
            "bflh_r",
            100.0,
            hip_flexion_deg=150.0,
            knee_flexion_deg=30.0,
            out_of_domain="refuse",
        )
