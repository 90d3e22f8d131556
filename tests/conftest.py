"""Test configuration: JAX in 64-bit with strict dtype promotion (set here, never in the library),
a persistent compilation cache for the test session, the test tiers (marks applied by file), the
shared data folder, and automatic skipping of OpenSim tests when OpenSim is absent.

Tiers (see the Makefile): ``pytest`` alone runs the fast tier (not slow, opensim or heavy),
``make test`` everything but ``heavy`` on parallel workers, ``pytest -m heavy`` the rest."""

from __future__ import annotations

import ast
import datetime
import fnmatch
import gc
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

#: XLA programs compiled by one test run are loaded from disk by the next (the cache key holds
#: the program, the jax/jaxlib versions and the flags, so a changed function is compiled anew).
#: ``$MUSCLESIM_JAX_CACHE`` overrides the folder. The variables are exported, not only set in
#: ``jax.config``, so the validation commands that tests run in their own process share the
#: cache. Every program is written, however quick its compilation: the suite compiles thousands
#: of programs that each take well under JAX's default threshold of 1 s, and their sum is what
#: the cache saves (test_geometry, test_fiber, test_muscle and test_arm_convention on 2 cores:
#: 124 s with an empty cache, 50 s with a full one, 82 s with a threshold of 0.1 s).
JAX_CACHE_DIR = Path(
    os.environ.get("MUSCLESIM_JAX_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "musclesim" / "jax-tests"
)
_JAX_CACHE = {
    "jax_compilation_cache_dir": str(JAX_CACHE_DIR),
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": -1,  # no size threshold
}
for _name, _value in _JAX_CACHE.items():
    os.environ[_name.upper()] = str(_value)
    jax.config.update(_name, _value)

# After the JAX settings: importing the package may already build arrays (in 64 bits) and
# compile, and JAX reads its cache settings once, at the first compilation.
from musclesim.core.io import REPO_ROOT, shared_data_dir  # noqa: E402
from musclesim.training.athlete import Athlete  # noqa: E402

HAVE_OPENSIM = importlib.util.find_spec("opensim") is not None

#: Tiers by path: the one place that says which tests are slow or need OpenSim, so a test added
#: to such a file lands in the right tier by itself. Whole files, by file name (shell patterns):
FILE_MARKS: dict[str, tuple[str, ...]] = {
    # Each runs a validation command (OpenSim's tools and the JAX pipeline) in its own process.
    "test_validation_parity.py": ("slow", "opensim"),
    "test_validation_rajagopal.py": ("slow", "opensim"),
    "test_validation_sprint.py": ("slow", "opensim"),
    # Ranks every drill for three example athletes over the first weeks (minutes).
    "test_validation_clinical.py": ("heavy",),
    # The uncertainty validation: Monte Carlo, Sobol indices and the what-if (minutes).
    "test_validation_uncertainty.py": ("heavy",),
    # Compare with OpenSim's own tools and models throughout.
    "test_geometry_opensim.py": ("opensim",),
    "test_pipeline.py": ("opensim",),
    # One finite-difference check through whole drill simulations (minutes).
    "test_time_gradient.py": ("slow",),
    # Every test reads one lookup table built by a module fixture (about 20 s).
    "test_tables.py": ("slow",),
    # A table built here and on a 2-worker LocalCluster whose worker processes compile the
    # solver anew (minutes on 2 shared cores).
    "test_tables_distributed.py": ("slow",),
    # Two `simulate` processes (float64 and float32) along the 9 m/s sprint (about a minute).
    "test_float32.py": ("slow",),
    # One sprint solved whole and in pieces through the compliant fibre solver (minutes).
    "test_simulate_long.py": ("slow",),
    # Each check starts Python processes that import the package and compile (about 10 s each).
    "test_jax_cache.py": ("slow",),
    # Ranks drills through the whole pipeline: whichever test runs first traces it (10-15 s).
    "test_rank.py": ("slow",),
    # Computes the example athlete's drill table through the pipeline, then plans from each of
    # its assessments (minutes).
    "test_plan_example.py": ("slow",),
    # Evaluates the sprinter model's knee muscles at test poses: 20 s with a warm compilation
    # cache, about a minute without (2 shared cores).
    "test_tolerance_capacity.py": ("slow",),
    # Two batched fibre-solver evaluations (drills, held poses, regressions): 110 s on 2 shared
    # cores with an empty compilation cache.
    "test_drills_kinematics_check.py": ("slow",),
    # One batched fibre-solver evaluation of three drills and 30 held poses (about a minute
    # on 2 shared cores with an empty compilation cache).
    "test_bflh_parameter_check.py": ("slow",),
    "test_derive_drill_excitation.py": ("slow",),
    # Monte Carlo of one drill and its references at three chunk sizes, and a ranking with its
    # uncertainty: each chunk size compiles the solver anew (about 4 min on 2 loaded cores).
    "test_montecarlo.py": ("slow",),
}

#: Single tests of otherwise fast files (``file::test``, every parameter case), left out of the
#: fast tier because each takes 3.5 s or more with a full compilation cache, or 10 s or more
#: with an empty one, its module fixture included (measured with ``--durations`` on 2 cores).
#: Tests that already carry their own mark are not repeated here.
TEST_MARKS: dict[str, tuple[str, ...]] = {
    name: ("slow",)
    for name in (
        "test_arm_convention.py::test_correction_survives_select_jit_and_grad",
        "test_arm_convention.py::test_opensim_convention_adds_the_fitted_correction_to_one_pair",
        "test_arm_convention.py::test_static_optimization_takes_the_convention",
        # Starts Python processes that import the package and write for seconds (15-20 s each).
        "test_bad_inputs.py::test_interrupt_during_netcdf_write_leaves_nothing_and_exits",
        "test_drills.py::test_every_drill_feeds_the_shipped_geometry_model",
        "test_fiber.py::test_batched_solve_shapes_and_vmap_consistency",
        "test_fiber.py::test_compliant_solution_matches_solve_ivp",
        "test_fiber.py::test_finite_at_zero_and_full_activation_fast_lengthening_and_shortening",
        "test_fiber.py::test_rigid_and_very_stiff_compliant_tendon_agree",
        # Each compiles the implicit solver and the accurate reference (or the gradient).
        "test_fiber_implicit.py::test_default_is_the_implicit_solver_within_its_measured_accuracy",
        "test_fiber_implicit.py::test_float32_at_zero_activation_is_finite_and_within_bounds",
        "test_fiber_implicit.py::test_gradient_matches_finite_differences",
        "test_fiber_implicit.py::test_newton_iterations_reach_the_stage_solutions",
        "test_fiber_implicit.py::test_batch_solved_in_chunks_equals_the_whole_batch",
        "test_fiber_implicit.py::test_parallel_in_time_form_converges_to_the_sequential_solution",
        "test_geometry.py::test_benchmark_runs_at_tiny_size",
        "test_geometry.py::test_erratic_corner_of_three_coordinates_is_cut_out_and_the_rest_kept",
        "test_geometry.py::test_jit_vmap_grad",
        "test_geometry.py::test_outside_domain_warns_masks_or_raises",
        "test_geometry.py::test_shapes_and_broadcasting",
        "test_geometry_path.py::test_moment_arms_are_the_derivative_of_the_length_between_flips",
        "test_geometry_path.py::test_opensim_convention_of_a_path_muscle_is_computed",
        "test_geometry_path.py::test_path_muscles_survive_select_jit_vmap_and_grad",
        "test_geometry_path.py::test_strip_attach_and_merge_keep_the_polynomials_and_paths_apart",
        "test_layers.py::test_import_musclesim_leaves_optional_dependencies_unimported",
        # The three tests of the module fixture that simulates the sprint.
        "test_simulate.py::test_citation_lists_what_a_result_used",
        "test_simulate.py::test_treadmill_run_at_a_given_speed_gets_the_running_template_peaks",
        "test_simulate.py::test_result_follows_the_strain_definitions",
        "test_simulate.py::test_sprint_peak_mtu_strain_matches_sources",
        "test_static_opt.py::test_kkt_conditions_on_sprint",
        # Sensitivities and what-ifs through a drill simulation and its reverse-mode gradient
        # (minutes of compilation on 2 shared cores); the estimator and input checks stay fast.
        "test_sensitivity.py::test_scenario_criteria_loads_the_muscle",
        "test_sensitivity.py::test_parameter_gradients_match_central_differences",
        "test_sensitivity.py::test_trajectory_gradient_matches_a_directional_difference",
        "test_sensitivity.py::test_elasticity_is_the_gradient_times_parameter_over_value",
        "test_sensitivity.py::test_tendon_slack_length_is_the_most_sensitive_parameter_of_active_stretch",
        "test_sensitivity.py::test_sobol_indices_through_the_chain_are_seeded",
        "test_whatif.py::test_unknown_coordinate_is_refused_with_the_known_ones",
        "test_whatif.py::test_prediction_error_is_of_third_order",
        "test_whatif.py::test_directional_derivative_is_the_first_order_term",
        "test_whatif.py::test_smallest_change_reaches_the_limit_from_below",
        "test_whatif.py::test_smallest_change_says_when_the_limit_is_out_of_reach",
    )
}


def _stale_tier_entries(tests: Path) -> list[str]:
    """Entries of FILE_MARKS and TEST_MARKS that name no test file or no test function, so a
    renamed file or test cannot silently fall back into the fast tier."""
    stale = [pattern for pattern in FILE_MARKS if not any(tests.glob(pattern))]
    for entry in TEST_MARKS:
        file, name = entry.split("::")
        path = tests / file
        defined = path.is_file() and any(
            isinstance(node, ast.FunctionDef) and node.name == name
            for node in ast.parse(path.read_text()).body
        )
        if not defined:
            stale.append(entry)
    return stale


def _tier_marks(item: pytest.Item) -> tuple[str, ...]:
    file = item.path.name
    marks = [m for p, ms in FILE_MARKS.items() if fnmatch.fnmatch(file, p) for m in ms]
    marks += TEST_MARKS.get(f"{file}::{getattr(item, 'originalname', item.name)}", ())
    return tuple(marks)


def pytest_configure(config):
    stale = _stale_tier_entries(Path(__file__).parent)
    if stale:
        raise pytest.UsageError(f"tests/conftest.py names tests that do not exist: {stale}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Apply the tier marks before ``-m`` selects (hence ``tryfirst``), then skip OpenSim tests
    when OpenSim is not installed."""
    for item in items:
        for mark in _tier_marks(item):
            item.add_marker(mark)
    if HAVE_OPENSIM:
        return
    skip = pytest.mark.skip(reason="needs the opensim extra (pip install opensim==4.6)")
    for item in items:
        if "opensim" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _opensim_log_in_tmp(tmp_path_factory):
    """OpenSim's log of this test process goes to its temporary folder. By default OpenSim opens
    ``opensim.log`` in the working directory at its first message, which is often while it
    loads a model with the model's folder as working directory: here ``../shared/data/models``,
    which test_pipeline.py checks is left untouched (and, under pytest-xdist, another worker
    may be writing to it while that check takes its snapshots)."""
    if HAVE_OPENSIM:
        import opensim

        opensim.Logger.addFileSink(str(tmp_path_factory.getbasetemp() / "opensim.log"))


@pytest.fixture(scope="session")
def data_dir():
    return shared_data_dir()


#: ``python -c`` program that runs ``python -m MODULE ARGS`` with OpenSim's log in ``LOG``:
#: ``python -c PRELUDE LOG MODULE ARGS`` (see ``_opensim_log_in_tmp``).
_WITH_OPENSIM_LOG = """import runpy, sys
import opensim
log, module = sys.argv[1:3]
del sys.argv[1:3]
opensim.Logger.addFileSink(log)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def run_validation(module: str, out, data_dir, *args: str, report: str | None = None) -> str:
    """Run ``python -m validation.<module> --out OUT --data DATA *args`` in its own process
    (the validations drive OpenSim's tools and many JAX compilations; OpenSim's tools and XLA's
    compiler in one process have aborted a later compilation) with OpenSim's log in
    ``OUT/opensim.log``, assert that its report says PASS and that it exited 0, and return the
    report's text."""
    command = [sys.executable, "-c", _WITH_OPENSIM_LOG, str(out / "opensim.log")]
    command += [f"validation.{module}", "--out", str(out), "--data", str(data_dir), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    path = out / f"{report or module}.md"
    assert path.is_file(), done.stdout[-2000:] + done.stderr[-4000:]
    text = path.read_text()
    assert re.search(r"\*\*(Result: )?PASS\*\*", text), text
    assert done.returncode == 0, done.stderr[-4000:]
    return text


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled executables after each test module. A full run compiles thousands
    of XLA programs in one process; kept alive, their code and memory mappings accumulate, and
    late in the run XLA's compiler has crashed (abort or segfault inside
    ``backend_compile_and_load``) in whichever test compiled next. It costs little: a dropped
    program comes back from the persistent cache, and keeping them did not make ``make test``
    faster (2 workers, 2 cores: 7 min 15 s dropping them, 8 min 20 s and 9 min 24 s keeping)."""
    yield
    jax.clear_caches()
    gc.collect()


def make_athlete(**overrides):
    """A grade 2b right BFLH athlete injured on 2026-11-02 (1.80 m, 75 kg, 9.6 m/s maximal
    sprint speed), with any field overridden: the athlete the plan and citation tests share."""
    base = dict(
        height=1.8,
        mass=75.0,
        max_sprint_speed=9.6,
        muscle="bflh",
        side="right",
        grade="2b",
        injury_date=datetime.date(2026, 11, 2),
    )
    return Athlete(**{**base, **overrides})
