# Entry points users type. Every target works on a fresh Debian machine with
# only `make` installed: Python with venv, the system packages the target needs
# (scripts/install-system-deps.sh GROUP), the virtualenv, the Python packages
# and the Kafka jars are set up on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KAFKAVAL := $(VENV)/bin/kafkaval
PYTEST := $(VENV)/bin/pytest
# QUICK=1 shrinks durations and counts (same code path); REPEAT=N repeats benchmarks;
# PROFILE=NAME runs only that benchmark.
QUICK ?=
REPEAT ?=
PROFILE ?=
PERF_FLAGS := $(if $(QUICK),--quick) $(if $(REPEAT),--repeat $(REPEAT)) $(if $(PROFILE),--profile $(PROFILE))
SYSDEPS := bash scripts/install-system-deps.sh

.PHONY: help deps deps-perf deps-delivery deps-cdc deps-docker venv up down status test test-unit test-integration test-docker images \
        test-kafka-performance test-kafka-delivery kafka-reports lint clean

help:
	@echo "make test-kafka-performance  run the 5 benchmarks against the local stack (QUICK=1, REPEAT=N)"
	@echo "make test-kafka-delivery     run the delivery-guarantee scenarios incl. Debezium offset recovery (QUICK=1, CDC=0)"
	@echo "make test-kafka-cdc-snapshot the real Debezium initial snapshot, 895K rows (QUICK=1)"
	@echo "make kafka-reports           write reports/performance-baseline.md and delivery-guarantees.md"
	@echo "make up | down | status      the local Kafka + Prometheus stack"
	@echo "make test                    unit + integration tests (installs what they need)"
	@echo "make test-docker             the Docker tier alone (exporter, Docker faults, compose)"
	@echo "make check-fresh             the README's first command in a bare Debian container (PROFILE=NAME)"
	@echo "make bench-compare | bench-overhead | bench-agent-overhead | bench-exporter | bench-regression   benchmarks (WORKERS=N for bench-compare)"

# Python and its venv module first: a bare Debian has neither.
$(VENV)/.installed: pyproject.toml
	$(SYSDEPS) base
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# System packages per purpose; `deps` is all of them (the whole test suite).
deps: venv
	$(SYSDEPS) all

deps-perf: venv
	$(SYSDEPS) perf

deps-delivery: venv
	$(SYSDEPS) delivery $(if $(filter-out 0,$(CDC)),cdc)

deps-cdc: venv
	$(SYSDEPS) cdc

deps-docker: venv
	$(SYSDEPS) perf docker

up: deps-perf
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
images: deps-docker
	bash scripts/start-dockerd.sh
	bash docker/build-images.sh

# The Docker tier alone: exporter, Docker faults, the compose stack.
test-docker: deps-docker images
	$(PYTEST) -q -m docker tests/integration

# The suites end by regenerating the reports; the exit code is the suite's
# (1 if a threshold failed), or 1 if its own report could not be built from
# Prometheus. The other report is rewritten too, from its run record alone if
# Prometheus no longer holds that older run's window, and never fails the suite.
test-kafka-performance: deps-perf
	$(KAFKAVAL) stack up --unless-external
	rc=0; $(KAFKAVAL) perf run $(PERF_FLAGS) || rc=$$?; \
	$(KAFKAVAL) report --require performance || [ $$rc -ne 0 ] || rc=1; exit $$rc

# The README's first command on a bare Debian machine (a debootstrap container
# with only make): installs, stack up, one QUICK profile (PROFILE=NAME), stack down.
.PHONY: check-fresh
check-fresh: deps-docker
	bash scripts/check-fresh.sh $(PROFILE)

# Benchmarks, not tests: loadgen vs Kafka's ProducerPerformance, and the cost of accounting.
.PHONY: bench-compare bench-overhead
bench-compare: deps-perf
	$(KAFKAVAL) stack up --unless-external
	$(KAFKAVAL) perf compare $(if $(QUICK),--quick) $(if $(WORKERS),--workers $(WORKERS))

bench-overhead: venv
	$(KAFKAVAL) perf overhead

# The JMX exporter agent's cost on the broker: interleaved A/B against a twin
# broker without it (ROUNDS=N, QUICK=1).
.PHONY: bench-agent-overhead
bench-agent-overhead: deps-perf
	$(PY) -m loadgen.bench_agent $(if $(QUICK),--quick) $(if $(ROUNDS),--rounds $(ROUNDS))

# 100-byte max rate with 1, 2, 3 workers on ENGINE (swarm: a swarm manager with
# kafkaval/kafkaval:local, `make images`; local: processes) -> results/bench-scale.json.
.PHONY: bench-scale
ENGINE ?= swarm
bench-scale: deps
	$(KAFKAVAL) stack up --unless-external
	$(KAFKAVAL) perf scale --engine $(ENGINE) $(if $(QUICK),--quick)

# The four Kafka scenarios, then Debezium offset recovery (connector-restart) on
# the real CDC pipeline (CDC=0 skips it, e.g. for an attached Debezium whose
# Connect container is not named in KAFKAVAL_CDC_CONNECT_CONTAINER), which
# joins the same results/latest-delivery.json; then the reports.
CDC ?= 1
test-kafka-delivery: deps-delivery
	$(KAFKAVAL) stack up --unless-external
	rc=0; $(KAFKAVAL) delivery run $(if $(QUICK),--quick) || rc=$$?; \
	if [ "$(CDC)" != 0 ]; then \
	  { $(KAFKAVAL) cdc up && $(KAFKAVAL) cdc connector-restart $(if $(QUICK),--quick); } \
	    || [ $$rc -ne 0 ] || rc=1; \
	fi; \
	$(KAFKAVAL) report --require delivery || [ $$rc -ne 0 ] || rc=1; exit $$rc

# The real Debezium snapshot (895,000 rows; QUICK=1 far fewer), exact count checked.
.PHONY: test-kafka-cdc-snapshot
test-kafka-cdc-snapshot: deps-cdc
	$(KAFKAVAL) stack up --unless-external
	$(KAFKAVAL) cdc up
	$(KAFKAVAL) cdc snapshot $(if $(QUICK),--quick)

kafka-reports: venv
	$(KAFKAVAL) report

# Benchmarks: exporter scrape time with 20 containers; the regression verdict's
# power and false-alarm rate on this machine's recorded noise.
.PHONY: bench-exporter bench-regression
bench-exporter: deps-docker images
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
