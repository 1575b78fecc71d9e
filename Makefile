# newswatch — the one front door. CI runs `make test` (.ci/run).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh
CARGO ?= $(shell command -v cargo || echo $(HOME)/.cargo/bin/cargo)
export PYTHON := $(CURDIR)/$(PY)

.PHONY: help setup proto proto-check lint fmt unit integration e2e test run kafka-up kafka-down bench clean

help:
	@echo "make run        start a local Kafka (if none is configured), the sample feed and the whole pipeline"
	@echo "make test       lint + unit + integration + end-to-end (starts its own Kafka when none is configured)"
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

lint: setup proto-check
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy --strict
	$(CARGO) fmt --manifest-path native/Cargo.toml --check
	$(CARGO) clippy --quiet --manifest-path native/Cargo.toml --locked -- -D warnings

fmt: setup
	$(BIN)/ruff format services tests bench
	$(CARGO) fmt --manifest-path native/Cargo.toml
	$(BIN)/ruff check --fix services tests bench

unit: setup
	$(BIN)/pytest -m "not integration and not e2e"

integration: setup
	$(BIN)/pytest -m "integration"

e2e: setup
	$(BIN)/pytest -m "e2e"

test: lint
	bash $(KAFKA) fetch
	$(BIN)/pytest

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
