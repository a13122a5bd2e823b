# The common paths, one command each. Everything with logic lives in ops/ (Python, --help).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TAG ?= v1

.PHONY: help setup test test-fast test-swarm test-browser test-integration lint dev images up down status bench

help:
	@echo "make up          build images, deploy the stack on a single-node swarm, wait until healthy"
	@echo "make down        remove the stack (volumes kept; make down VOLUMES=1 removes them)"
	@echo "make test        the full suite: unit, API, integration, browser and swarm"
	@echo "make test-fast   the everyday suite (no Docker, no browser)"
	@echo "make dev         the whole system as local processes (no Docker)"
	@echo "make images      build the images (TAG=$(TAG))"
	@echo "make lint        ruff check and format check"
	@echo "make bench       wrk benchmarks in local mode (N = 1k, 10k, 100k); BENCH_ARGS=--help for options"

setup:
	$(PYTHON) -m ops.setup

test: setup
	$(VENV)/bin/pytest -m "not cluster"

test-fast:
	$(VENV)/bin/pytest

test-integration:
	$(VENV)/bin/pytest -m integration

test-browser:
	$(VENV)/bin/pytest -m browser

test-swarm:
	$(VENV)/bin/pytest -m swarm

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

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
