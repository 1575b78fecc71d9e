# newswatch — the one front door. CI runs `make test` (.ci/run).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh
CARGO ?= $(shell command -v cargo || echo $(HOME)/.cargo/bin/cargo)
export PYTHON := $(CURDIR)/$(PY)

.PHONY: help setup proto proto-check lint fmt unit integration e2e test system-test run kafka-up kafka-down bench \
	clean

help:
	@echo "make run        start a local Kafka (if none is configured), the sample feed and the whole pipeline"
	@echo "make test       lint + unit + integration + end-to-end + whole-system faults (starts its own Kafka when none is configured)"
	@echo "make system-test  whole-system fault tests and a soak (tests/system; SOAK_SECONDS, default 600)"
	@echo "make lint       ruff, mypy --strict, cargo fmt + clippy (native/), generated-code staleness check"
	@echo "make proto      regenerate services/newswatch/v1 from proto/"
	@echo "make kafka-up / kafka-down   the local single-node KRaft broker on 127.0.0.1:9092"
	@echo "make bench      run the benchmarks under bench/"

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh native/pyproject.toml native/Cargo.toml native/Cargo.lock \
		native/newswatch_native.pyi $(wildcard native/src/*.rs)
	bash scripts/bootstrap.sh

setup: $(VENV)/.installed

proto: setup
	bash scripts/gen_proto.sh

proto-check: setup
	bash scripts/gen_proto.sh --check

# Python outside the package: tests, benchmarks, the dashboard generator and the image's health check.
PY_TREES := services tests bench deploy/grafana deploy/docker

lint: setup proto-check
	$(BIN)/ruff check $(PY_TREES)
	$(BIN)/ruff format --check $(PY_TREES)
	$(BIN)/mypy --strict
	$(CARGO) fmt --manifest-path native/Cargo.toml --check
	$(CARGO) clippy --quiet --manifest-path native/Cargo.toml --locked -- -D warnings

fmt: setup
	$(BIN)/ruff format $(PY_TREES)
	$(CARGO) fmt --manifest-path native/Cargo.toml
	$(BIN)/ruff check --fix $(PY_TREES)

# The whole-system tests (tests/system) run after the rest: the fault scenarios in `make test`, the
# fault scenarios and the soak in `make system-test`.
NOT_SYSTEM := --ignore=tests/system
# kustomize for the manifest tests (tests/deploy), built once into .cache/deploy-tools.
DEPLOY_TOOLS := bash scripts/deploy_tools.sh

unit: setup
	$(DEPLOY_TOOLS)
	$(BIN)/pytest $(NOT_SYSTEM) -m "not integration and not e2e"

integration: setup
	$(BIN)/pytest $(NOT_SYSTEM) -m "integration"

e2e: setup
	$(BIN)/pytest $(NOT_SYSTEM) -m "e2e"

test: lint
	bash $(KAFKA) fetch
	$(DEPLOY_TOOLS)
	$(BIN)/pytest $(NOT_SYSTEM)
	$(BIN)/pytest -m system -s tests/system/test_faults.py

# Faults (broker restart, SIGKILLs, a subscriber down, pollers scaled) and a soak on the whole pipeline.
system-test: setup
	bash $(KAFKA) fetch
	$(BIN)/pytest -m system -s tests/system

kafka-up:
	bash $(KAFKA) up

kafka-down:
	bash $(KAFKA) down

run: setup
	bash scripts/run.sh

bench: setup
	bash $(KAFKA) fetch
	$(PY) bench/run_all.py

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
