# The two commands of the README. `make demo` creates the environment, installs everything
# (OpenSim included) and runs the main job on shipped data; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers for `make test` and `make test-fast`: one per core, at most four (a
# worker's memory peaks near 3 GB).
WORKERS ?= auto --maxprocesses=4

.PHONY: demo test test-fast test-heavy lint validate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[opensim,dev]"
	touch $(STAMP)

# The main job on shipped files only: drill ranking for the example athlete (grade 2b right
# biceps femoris long head strain, injured 2026-11-02) on day 21, then the muscle demo.
demo: $(STAMP)
	$(PY) -m musclesim rank --athlete models/athletes/example_grade2_bflh.toml \
		--date 2026-11-23 --out results/demo/ranking.csv
	$(PY) -m musclesim demo --out results/demo

# Tiers (marks set by file in tests/conftest.py): `make test` is everything but `heavy`, with
# the 25 slowest tests listed; `make test-fast` runs what plain `pytest` runs (no slow, opensim
# or heavy tests), for the edit-run loop; `make test-heavy` runs only heavy. Workers take whole
# test modules (--dist loadscope), so each module fixture is built once.
test: $(STAMP)
	$(PY) -m pytest -q -m "not heavy" -n $(WORKERS) --dist loadscope --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --dist loadscope

test-heavy: $(STAMP)
	$(PY) -m pytest -q -m heavy --durations=25

lint: $(STAMP)
	$(VENV)/bin/ruff check musclesim tests experiments validation
	$(VENV)/bin/ruff format --check musclesim tests experiments validation

# Every validation report (needs OpenSim and ../shared/data; about 30 minutes).
validate: $(STAMP)
	$(PY) -m validation.opensim_parity --out results/validation
	$(PY) -m validation.sprint_hamstrings --out results/validation
	$(PY) -m validation.rajagopal_running --out results/validation
	$(PY) -m validation.gait_events --out results/validation
	$(PY) -m validation.geometry --out results/validation/geometry
	$(PY) -m validation.inverse_dynamics --out results/validation
	$(PY) -m validation.static_optimization --out results/validation
	$(PY) -m validation.load_sharing_sprint --out results/validation
	$(PY) -m validation.load_sharing_emg --out results/validation
	$(PY) -m validation.clinical_scenarios --out results/validation
	$(PY) -m validation.uncertainty --out results/validation

bench: $(STAMP)
	$(PY) -m experiments.benchmark_fiber
	$(PY) -m experiments.benchmark_static_opt

clean:
	rm -rf $(VENV) results
