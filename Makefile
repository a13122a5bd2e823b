# The common paths, one command each. Everything with logic lives in ops/ (Python, --help).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TAG ?= v1

.PHONY: help setup test test-fast test-swarm test-browser test-integration test-cluster lint lock dev images up down status bench \
	cluster-up cluster-deploy cluster-down cluster-status monitoring-up monitoring-down monitoring-status

help:
	@echo "make up              build images, deploy the stack on a single-node swarm, wait until healthy"
	@echo "make down            remove the stack (volumes kept; make down VOLUMES=1 removes them)"
	@echo "make test            the full suite: unit, API, integration, fuzz, browser, swarm and cluster"
	@echo "make test-fast       the everyday suite (no Docker, no browser)"
	@echo "make dev             the whole system as local processes (no Docker)"
	@echo "make images          build the images (TAG=$(TAG))"
	@echo "make lint            ruff check, format check and mypy"
	@echo "make lock            regenerate requirements.lock and requirements-dev.lock after editing requirements*.txt"
	@echo "make cluster-up      three Docker-in-Docker nodes (m1, w1, w2) and a registry: a real swarm on one machine"
	@echo "make cluster-deploy  push the images to the cluster's registry, deploy the stack on m1, wait until healthy"
	@echo "make cluster-down    remove the cluster: nodes, their volumes, network, registry"
	@echo "make test-cluster    the node-failure exercises as tests (kill w2 under load, restart, rebalance)"
	@echo "make monitoring-up   Prometheus and its dashboard beside the stack (http://127.0.0.1:9090/consoles/index.html)"
	@echo "make monitoring-down remove the monitoring stack (metrics kept; VOLUMES=1 removes them)"
	@echo "make bench           wrk benchmarks in local mode (N = 1k, 10k, 100k); BENCH_ARGS=--help for options"

setup:
	$(PYTHON) -m ops.setup

# Two runs: the single-node stack is gone before the three-node cluster comes up.
test: setup
	$(VENV)/bin/pytest -m "not cluster"
	$(VENV)/bin/pytest -m cluster

test-fast:
	$(VENV)/bin/pytest

test-integration:
	$(VENV)/bin/pytest -m integration

test-browser:
	$(VENV)/bin/pytest -m browser

test-swarm:
	$(VENV)/bin/pytest -m swarm

test-cluster: setup
	$(VENV)/bin/pytest -m cluster

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Both locks for Python 3.11 and later on any platform, with the hashes of every published file.
# Pins already in a lock are kept; add --upgrade-package NAME to move one.
UV_COMPILE := $(VENV)/bin/uv pip compile --universal --python-version 3.11 --generate-hashes --quiet
lock:
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

dev:
	$(PY) -m ops.dev

images:
	$(PY) -m ops.images build --tag $(TAG)

up: setup
	$(PY) -m ops.stack up --tag $(TAG)

down:
	$(PY) -m ops.stack down $(if $(VOLUMES),--volumes,)

status:
	$(PY) -m ops.stack status

bench:
	$(PY) -m bench $(BENCH_ARGS)

cluster-up: setup
	$(PY) -m ops.cluster up

cluster-deploy:
	$(PY) -m ops.cluster deploy --tag $(TAG)

cluster-down:
	$(PY) -m ops.cluster down

cluster-status:
	$(PY) -m ops.cluster status

monitoring-up:
	$(PY) -m ops.monitoring up

monitoring-down:
	$(PY) -m ops.monitoring down $(if $(VOLUMES),--volumes,)

monitoring-status:
	$(PY) -m ops.monitoring status
