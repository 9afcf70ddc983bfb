# Prestacop — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION ?= 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo .cache/uv-bootstrap/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
DEVKIT := $(VENV)/bin/prestacop-devkit
COMPOSE ?= docker compose
ENV_FILE ?= .env
# The Dockerfiles use RUN --mount=type=cache: BuildKit (the default of Docker 23+, not of 20.10).
export DOCKER_BUILDKIT ?= 1
DRONES ?= 10
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.cache/uv-bootstrap/bin/uv:
	python3 -m venv .cache/uv-bootstrap
	.cache/uv-bootstrap/bin/pip install --quiet "uv==$(UV_VERSION)"

.PHONY: venv
venv: $(if $(filter .cache/uv-bootstrap/bin/uv,$(UV)),.cache/uv-bootstrap/bin/uv) ## Create .venv from uv.lock (every workspace package + dev tools)
	$(UV) sync --all-packages --frozen

.PHONY: jars
jars: venv ## Fetch the Kafka broker and Spark connector jars from Maven Central (once, into .cache/)
	$(DEVKIT) fetch-jars

.PHONY: setup
setup: venv jars ## Everything needed to run and test: Python env and jars

.PHONY: lint
lint: venv ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict shared/src tools/devkit/src
	$(VENV)/bin/mypy --strict services/drone/src services/alert-mailer/src services/csv-ingestor/src services/stream-storage/src services/analytics/src

.PHONY: schemas
schemas: venv ## Regenerate the JSON Schemas in shared/schemas from the models
	$(PY) -m prestacop_shared.schemas shared/schemas

.PHONY: test
test: setup lint ## Set everything up, lint, and run every test (starts and stops its own broker)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## Only the unit tests (no servers)
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

.PHONY: fuzz
fuzz: venv ## Long property run of the CSV splitter and encoder (INGESTOR_FUZZ_EXAMPLES files, default 50000)
	INGESTOR_FUZZ_PROFILE=fuzz $(VENV)/bin/pytest tests/unit/csv_ingestor/test_damage.py -p no:cacheprovider $(PYTEST_ARGS)

.PHONY: kafka-up
kafka-up: jars ## Start a local Kafka broker (KRaft) from the jars; prints its bootstrap address
	@$(DEVKIT) kafka up

.PHONY: kafka-down
kafka-down: venv ## Stop the local Kafka broker started by kafka-up
	@$(DEVKIT) kafka down

.PHONY: demo
demo: setup ## Run the whole system as local processes (no Docker), then print a summary (DEMO_ARGS=--keep-running …)
	$(DEVKIT) demo $(DEMO_ARGS)

.PHONY: dashboard
dashboard: venv ## Serve the dashboard read-only over the last demo run's data (http://127.0.0.1:8090/)
	@test -d demo-run/data || { echo "No demo data yet: run make demo first"; exit 1; }
	ANALYTICS_DATA_DIR=demo-run/data $(VENV)/bin/prestacop-analytics serve

.PHONY: bench
bench: setup ## Print the benchmark figures (ingestor, storage, analytics, drone, mailer)
	$(PY) benchmarks/run_all.py

.PHONY: bench-quick
bench-quick: setup ## The same benchmarks on smaller inputs (a few minutes)
	$(PY) benchmarks/run_all.py --quick

.PHONY: bench-bulk
bench-bulk: setup ## A whole FY2017 (10.8M rows, 2 GB) CSV -> ingestor -> Kafka -> storage, one run (ROWS=N for less)
	$(PY) benchmarks/bench_bulk.py $(if $(ROWS),--rows $(ROWS))

.PHONY: docker-compose
docker-compose: venv ## Docker: install Compose v2 (and buildx if the CLI lacks it) as CLI plugins, built from the Go module proxy (once)
	$(DEVKIT) docker-compose

.PHONY: docker-images
docker-images: jars docker-compose ## Docker: make the base images present; without a registry, build stand-ins (compose/standins)
	$(DEVKIT) docker-images

.PHONY: test-docker
test-docker: setup ## Only the docker tests (needs an engine and `make docker-images`)
	$(VENV)/bin/pytest -m docker tests/docker $(PYTEST_ARGS)

.PHONY: up
up: ## Docker: start the whole fleet (Kafka, Mailpit, services) and wait until healthy (ENV_FILE=.env)
	@test -f $(ENV_FILE) || { echo "First: cp .env.example $(ENV_FILE), then set MAILER_OPERATOR_TOKEN and ANALYTICS_API_TOKEN"; exit 1; }
	$(COMPOSE) --env-file $(ENV_FILE) up -d --build --wait

.PHONY: down
down: ## Docker: stop the fleet, every profile (keeps the volumes; add -v by hand to drop them)
	$(COMPOSE) --profile '*' down --remove-orphans

.PHONY: logs
logs: ## Docker: follow the services' logs
	$(COMPOSE) logs -f --tail=200

.PHONY: ps
ps: ## Docker: show the fleet's containers and health
	$(COMPOSE) ps

.PHONY: scale
scale: ## Docker: run DRONES drone replicas (make scale DRONES=10)
	$(COMPOSE) up -d --wait --no-recreate --scale drone=$(DRONES) drone

.PHONY: clean
clean: ## Remove the environment, caches and local run data (keeps nothing you would miss)
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache demo-run test-artifacts
