# Everything a user or CI needs, from nothing but Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: help install test test-floor lint typecheck codegen codegen-check pytest pytest-bulk pytest-survival pytest-rest fuzz mutate mutate-sample demo bench clean

help:
	@echo "make demo       download a year of CFDIs from the local sandbox, with live progress"
	@echo "make test       lint, type-check, codegen drift check, the whole suite, a mutant sample"
	@echo "                (newest aiohttp/attrs/cattrs, then the declared floors: test-floor)"
	@echo "make test-floor the suite on the oldest aiohttp/attrs/cattrs allowed (.venv-floor)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make codegen    regenerate _generated/, catalogs.py and docs/coverage.md from openapi/"
	@echo "make fuzz       a larger random Hypothesis search (FUZZ_ROUNDS=3; CI=true derandomizes)"
	@echo "make bench      benchmarks against raw aiohttp and other clients (writes BENCHMARKS.md)"
	@echo "make mutate     mutation testing of the safety core (writes docs/mutation.md; slow)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --upgrade -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy --strict

codegen: $(STAMP)
	$(PY) -m codegen

codegen-check: $(STAMP)
	$(PY) -m codegen --check

# The tests start the CLI and the sandbox as subprocesses hundreds of times. Where
# PYTHONDONTWRITEBYTECODE is set (CI's image sets it), no process may cache the SDK's compiled
# modules, so each one compiled them all again (0.4 s of a 1.3 s start); compiled first (as pip
# does for an installed wheel; nothing to do when up to date), each start reads them.
COMPILE = -m compileall -q gigstack_async

pytest: $(STAMP)
	$(PY) $(COMPILE)
	$(PY) -m pytest

# `make test` runs the suite in three parts at once (the same tests as `make pytest`): the
# survival and CLI tests mostly wait on subprocesses and timers, so one part's waits are
# another's CPU on CI's two cores.
pytest-bulk: $(STAMP)
	$(PY) $(COMPILE)
	$(PY) -m pytest tests/bulk
pytest-survival: $(STAMP)
	$(PY) $(COMPILE)
	$(PY) -m pytest tests/survival tests/contract
pytest-rest: $(STAMP)
	$(PY) $(COMPILE)
	$(PY) -m pytest tests --ignore=tests/bulk --ignore=tests/survival --ignore=tests/contract

# A fresh random Hypothesis search, larger than the suite's (which CI derandomizes): run it
# after changing bulk/machine.py; a counterexample prints a @reproduce_failure blob to replay.
FUZZ_ROUNDS ?= 3
fuzz: $(STAMP)
	for round in $$(seq $(FUZZ_ROUNDS)); do \
		echo "make fuzz: round $$round of $(FUZZ_ROUNDS) (fresh random examples)"; \
		log=$$(mktemp); \
		HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -x -p no:cacheprovider \
			--hypothesis-show-statistics -rN \
			tests/bulk/test_machine_model.py tests/test_money.py tests/test_fiscal.py \
			tests/test_package_staging.py tests/test_convert_fast_path.py > $$log 2>&1; \
		status=$$?; \
		if [ $$status -ne 0 ]; then cat $$log; rm -f $$log; exit $$status; fi; \
		grep -E '^(tests/|  - Stopped|[0-9]+ passed)' $$log; rm -f $$log; \
	done; echo "make fuzz: $(FUZZ_ROUNDS) round(s) passed"

# A bounded, random sample of mutants, so the mutation habit cannot rot (make mutate runs all).
MUTATION_SAMPLE ?= 25

mutate: $(STAMP)
	$(PY) -m mutation

mutate-sample: $(STAMP)
	$(PY) -m mutation --sample $(MUTATION_SAMPLE)

# Three jobs at a time on CI's two cores (the suite's parts wait on subprocesses and timers a
# good part of the time), longest first: the mutant sample (it generates every mutant before
# it runs its 25) and the floor venv's install and suite run beside the main suite's parts;
# --output-sync prints each step's output whole when it ends.
test:
	$(MAKE) -j3 --output-sync=target mutate-sample test-floor pytest-rest pytest-bulk \
		pytest-survival typecheck lint codegen-check

# The oldest versions pyproject.toml allows (">=X" read as "==X"), in a second venv: the suite
# runs there, so the floors stay true, minus what does not exercise those libraries any further:
# spec fuzzing, survival, codegen, bench and packaging runs, and the CLI's words and flows
# (tests/cli, the README's commands: subprocesses that drive the same SDK paths the rest of the
# suite runs in process, at a second of start-up each).
FLOOR_VENV := .venv-floor
FLOOR_PY := $(FLOOR_VENV)/bin/python
FLOOR_STAMP := $(FLOOR_VENV)/.installed-floor
FLOOR_PINS = $(shell $(PYTHON) -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(" ".join(re.sub(">=", "==", d) for d in deps))')

$(FLOOR_STAMP): pyproject.toml
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_PY) -m pip install --quiet --upgrade pip
	$(FLOOR_PY) -m pip install --quiet -e '.[cli]' pytest pytest-asyncio pyyaml hypothesis uvicorn standardwebhooks $(FLOOR_PINS)
	@touch $(FLOOR_STAMP)

test-floor: $(FLOOR_STAMP)
	$(FLOOR_PY) -m pip list --disable-pip-version-check 2>/dev/null | grep -Ei '^(aiohttp|attrs|cattrs) '
	$(FLOOR_PY) $(COMPILE)
	HYPOTHESIS_PROFILE=floor $(FLOOR_PY) -m pytest tests --ignore=tests/contract --ignore=tests/survival \
		--ignore-glob='tests/test_codegen*.py' --ignore=tests/test_bench_smoke.py \
		--ignore=tests/test_packaging.py --ignore=tests/cli --ignore=tests/test_readme.py

# The demo needs the SDK and rich only (.[cli]), not the whole dev toolchain.
DEMO_STAMP := $(VENV)/.installed-cli
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade -e '.[cli]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m gigstack_async demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .mypy_cache .ruff_cache .pytest_cache mutants
