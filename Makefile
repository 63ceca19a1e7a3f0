# Every command in the README is a target here. The first run of any target creates .venv and
# installs the project with all its extras; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST ?= $(BIN)/python -m pytest
# Python may cache bytecode for every target, whatever the shell says: with PYTHONDONTWRITEBYTECODE
# set (as on our CI machines) each pytest process compiled our modules and re-ran its assertion
# rewriting of every test module and of Hypothesis (about 280 modules, 1.6 s of CPU a process).
unexport PYTHONDONTWRITEBYTECODE
# make dev IDENTITY=cognito: accounts in (moto's) Cognito instead of the users table.
IDENTITY ?= builtin

.PHONY: dev test test-unit test-property test-integration test-e2e test-infra setup-e2e setup-infra \
        lint format types check bench build clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## make dev: the whole chat on this machine (local cloud + browser client), Ctrl-C stops it.
## ARGS go to python -m localcloud, e.g. ARGS='--var rate_limits_enabled=false' (no abuse limits).
dev: $(STAMP)
	$(BIN)/python -m localcloud --host $(HOST) --port $(PORT) --var identity_provider=$(IDENTITY) $(ARGS)

## make test: every test tier. Installs what the tiers need (Chromium, shellcheck, checkov).
## One worker per core (pytest-xdist), each test file whole on one worker: the files share a
## local cloud, a browser or a deployment per file, and most of their time is spent waiting.
TEST_WORKERS ?= auto
test: $(STAMP) setup-e2e setup-infra
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile tests

# Two workers beat one process when the cores are free (38 s against 58 s, README "Tests").
test-unit: $(STAMP)
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile tests/unit

test-property: $(STAMP)
	$(PYTEST) tests/property

test-integration: $(STAMP)
	$(PYTEST) tests/integration

test-e2e: $(STAMP) setup-e2e
	$(PYTEST) tests/e2e

test-infra: $(STAMP) setup-infra
	$(PYTEST) tests/infra

setup-e2e:
	bash scripts/setup-e2e.sh

setup-infra:
	bash scripts/setup-infra.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

types: $(STAMP)
	$(BIN)/mypy lambda/chat scripts/localcloud bench

## make check: the one quality gate: lint, types and every test.
check: lint types test

## make bench: benchmark scripts; prints figures, writes bench/results.md and docs/img/*.png.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## make build: the Lambda function zip and dependency layer under build/.
build:
	bash scripts/build_lambda.sh

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
