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

.PHONY: help deps venv up down status test test-unit test-integration test-docker images \
        test-kafka-performance test-kafka-delivery kafka-reports lint clean

help:
	@echo "make test-kafka-performance  run the 5 benchmarks against the local stack (QUICK=1, REPEAT=N)"
	@echo "make test-kafka-delivery     run the delivery-guarantee scenarios (QUICK=1)"
	@echo "make kafka-reports           write reports/performance-baseline.md and delivery-guarantees.md"
	@echo "make up | down | status      the local Kafka + Prometheus stack"
	@echo "make test                    unit + integration tests (installs what they need)"
	@echo "make test-docker             the Docker tier alone (exporter, Docker faults, compose)"
	@echo "make bench-compare | bench-overhead | bench-exporter | bench-regression   benchmarks"

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

# Docker engine (started if needed) and the locally built images the Docker tier uses.
images: venv
	bash scripts/start-dockerd.sh
	bash docker/build-images.sh

# The Docker tier alone: exporter, Docker faults, the compose stack.
test-docker: deps images
	$(PYTEST) -q -m docker tests/integration

# The suites end by regenerating the reports; the exit code is the suite's
# (1 if a threshold failed), or 1 if the reports could not be written.
test-kafka-performance: deps
	$(KAFKAVAL) stack up
	rc=0; $(KAFKAVAL) perf run $(PERF_FLAGS) || rc=$$?; \
	$(KAFKAVAL) report || [ $$rc -ne 0 ] || rc=1; exit $$rc

# Benchmarks, not tests: loadgen vs Kafka's ProducerPerformance, and the cost of accounting.
.PHONY: bench-compare bench-overhead
bench-compare: deps
	$(KAFKAVAL) stack up
	$(KAFKAVAL) perf compare $(if $(QUICK),--quick)

bench-overhead: venv
	$(KAFKAVAL) perf overhead

test-kafka-delivery: deps
	$(KAFKAVAL) stack up
	rc=0; $(KAFKAVAL) delivery run $(if $(QUICK),--quick) || rc=$$?; \
	$(KAFKAVAL) report || [ $$rc -ne 0 ] || rc=1; exit $$rc

kafka-reports: venv
	$(KAFKAVAL) report

# Benchmarks: exporter scrape time with 20 containers; the regression verdict's
# power and false-alarm rate on this machine's recorded noise.
.PHONY: bench-exporter bench-regression
bench-exporter: deps images
	$(KAFKAVAL) exporter bench

bench-regression: venv
	$(PY) -m scheduler.bench

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kafkaval stack loadgen chaos exporter report scheduler cdc

clean:
	-$(KAFKAVAL) stack down --wipe
	rm -rf results reports/*.png
