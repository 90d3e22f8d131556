# The two commands of the README. `make demo` creates the environment, installs everything
# (OpenSim included) and runs the main job on shipped data; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint validate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[opensim,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m musclesim demo --out results/demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check musclesim tests experiments validation
	$(VENV)/bin/ruff format --check musclesim tests experiments validation

validate: $(STAMP)
	$(PY) -m validation.opensim_parity --out results/validation

bench: $(STAMP)
	$(PY) -m experiments.benchmark_fiber

clean:
	rm -rf $(VENV) results
