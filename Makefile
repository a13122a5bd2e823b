# The common paths, one command each. Everything with logic lives in ops/ (Python, --help).
# Every target first makes what it needs, so any of them works first on a fresh clone:
# - host-venv: the Docker side (up, down, status, images, cluster, monitoring): any python3 from
#   3.9 and a Docker engine; a .venv with the docker SDK (ops.bootstrap). No root, no apt.
# - setup, setup-local, venv: tests, local mode, benchmarks, linters: Python 3.11 to 3.13, and
#   for the first two Debian packages (ops.setup; as root, it installs them).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TAG ?= v1

.PHONY: help host-venv setup setup-local venv test test-fast test-swarm test-browser test-integration test-cluster \
	test-newcomer lint lock dev images up down status bench \
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
	@echo "make test-newcomer   make up as a new user would: non-root, Python 3.9, only docker, make and python3"
	@echo "make monitoring-up   Prometheus and its dashboard beside the stack (http://127.0.0.1:9090/consoles/index.html)"
	@echo "make monitoring-down remove the monitoring stack (metrics kept; VOLUMES=1 removes them)"
	@echo "make bench           wrk benchmarks in local mode (N = 1k, 10k, 100k); BENCH_ARGS=--help for options"
	@echo "make setup           what the tests need: Debian packages, a Docker engine, .venv from requirements-dev.lock"

host-venv:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "ERROR: no $(PYTHON): install Python 3.9 or later (or pass PYTHON=...)" >&2; exit 1; }
	@$(PYTHON) -m ops.bootstrap

setup:
	$(PYTHON) -m ops.setup

setup-local:
	$(PYTHON) -m ops.setup --no-docker --no-browser

venv:
	$(PYTHON) -m ops.setup --venv-only

# Three runs, each with the host's swarm to itself: the single-node stack of the swarm suites is
# gone before the newcomer deploys one the way a user does, and that one before the cluster comes up.
test: setup
	$(VENV)/bin/pytest -m "not cluster and not newcomer"
	$(VENV)/bin/pytest -m newcomer
	$(VENV)/bin/pytest -m cluster

test-fast: setup-local
	$(VENV)/bin/pytest

test-integration: setup-local
	$(VENV)/bin/pytest -m integration

test-browser:
	$(PYTHON) -m ops.setup --no-docker
	$(VENV)/bin/pytest -m browser

test-swarm: setup
	$(VENV)/bin/pytest -m swarm

test-cluster: setup
	$(VENV)/bin/pytest -m cluster

test-newcomer: setup
	$(VENV)/bin/pytest -m newcomer

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The locks for any platform, with the hashes of every published file: the images' and the
# project venv's for Python 3.11 and later, the host side's for 3.9 and later.
# Pins already in a lock are kept; add --upgrade-package NAME to move one.
UV_COMPILE := $(VENV)/bin/uv pip compile --universal --python-version 3.11 --generate-hashes --quiet
UV_COMPILE_HOST := $(VENV)/bin/uv pip compile --universal --python-version 3.9 --generate-hashes --no-python-downloads --quiet
lock: venv
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock
	$(UV_COMPILE_HOST) requirements-host.txt -o requirements-host.lock

dev: setup-local
	$(PY) -m ops.dev

images: host-venv
	$(PY) -m ops.images build --tag $(TAG)

up: host-venv
	$(PY) -m ops.stack up --tag $(TAG)

down: host-venv
	$(PY) -m ops.stack down $(if $(VOLUMES),--volumes,)

status: host-venv
	$(PY) -m ops.stack status

bench: setup-local
	$(PY) -m bench $(BENCH_ARGS)

cluster-up: host-venv
	$(PY) -m ops.cluster up

cluster-deploy: host-venv
	$(PY) -m ops.cluster deploy --tag $(TAG)

cluster-down: host-venv
	$(PY) -m ops.cluster down

cluster-status: host-venv
	$(PY) -m ops.cluster status

monitoring-up: host-venv
	$(PY) -m ops.monitoring up

monitoring-down: host-venv
	$(PY) -m ops.monitoring down $(if $(VOLUMES),--volumes,)

monitoring-status: host-venv
	$(PY) -m ops.monitoring status
