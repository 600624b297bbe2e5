# Entry points users type. Every target works on a fresh Debian machine: the
# virtualenv, the Python packages and the Kafka jars are set up on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KAFKAVAL := $(VENV)/bin/kafkaval
PYTEST := $(VENV)/bin/pytest
# QUICK=1 shrinks durations and counts (same code path); REPEAT=N repeats benchmarks.
QUICK ?=
REPEAT ?=
PERF_FLAGS := $(if $(QUICK),--quick) $(if $(REPEAT),--repeat $(REPEAT))

.PHONY: help deps venv up down status test test-unit test-integration test-docker \
        test-kafka-performance test-kafka-delivery kafka-reports lint clean

help:
	@echo "make test-kafka-performance  run the 5 benchmarks against the local stack (QUICK=1, REPEAT=N)"
	@echo "make test-kafka-delivery     run the delivery-guarantee scenarios (QUICK=1)"
	@echo "make kafka-reports           write reports/performance-baseline.md and delivery-guarantees.md"
	@echo "make up | down | status      the local Kafka + Prometheus stack"
	@echo "make test                    unit + integration tests (installs what they need)"

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

deps: venv
	bash scripts/install-system-deps.sh

up: deps
	$(KAFKAVAL) stack up

down: venv
	$(KAFKAVAL) stack down

status: venv
	$(KAFKAVAL) stack status

test: deps
	bash scripts/run-tests.sh

test-unit: venv
	$(PYTEST) -q tests/unit

test-integration: deps
	$(PYTEST) -q tests/integration

test-kafka-performance: deps
	$(KAFKAVAL) stack up
	$(KAFKAVAL) perf run $(PERF_FLAGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	-$(KAFKAVAL) stack down --wipe
	rm -rf results reports/*.png
