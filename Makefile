# Everything a user or CI needs, from nothing but Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: help install test lint typecheck codegen codegen-check pytest mutate mutate-sample demo bench clean

help:
	@echo "make demo       download a year of CFDIs from the local sandbox, with live progress"
	@echo "make test       lint, type-check, codegen drift check and the whole test suite"
	@echo "make codegen    regenerate _generated/, catalogs.py and docs/coverage.md from openapi/"
	@echo "make bench      benchmarks against raw aiohttp and other clients (writes BENCHMARKS.md)"
	@echo "make mutate     mutation testing of the safety core (writes docs/mutation.md; slow)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
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

pytest: $(STAMP)
	$(PY) -m pytest

# A bounded, random sample of mutants, so the mutation habit cannot rot (make mutate runs all).
MUTATION_SAMPLE ?= 40

mutate: $(STAMP)
	$(PY) -m mutation

mutate-sample: $(STAMP)
	$(PY) -m mutation --sample $(MUTATION_SAMPLE)

test: lint typecheck codegen-check pytest

demo: $(STAMP)
	$(PY) -m gigstack_async demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache mutants
