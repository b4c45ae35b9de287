# One entry point for developers and CI. Every target installs what it needs (uv, then the workspace).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION ?= 0.13.9
# A uv on PATH wins; otherwise the one `make uv` installs into $(PYTHON) with pip.
UV ?= $(shell command -v uv 2>/dev/null || echo $(PYTHON) -m uv)
RUN := $(UV) run --frozen
MLFLOW_PORT ?= 5000
export UV_LINK_MODE ?= copy

.PHONY: help uv setup data train run test test-fast lint lint-infra format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

uv: ## Install uv with pip when it is missing
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)" \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)"

setup: uv ## Create .venv with every workspace package and the dev tools, from uv.lock
	@$(UV) sync --frozen --all-packages

data: setup ## Download and verify the IBM Telco dataset into .cache/data
	@$(RUN) churn-train --fetch-only

train: setup ## Train and publish a model (own local MLflow server unless MLFLOW_TRACKING_URI is set)
	@$(RUN) python scripts/stack.py train --mlflow-port $(MLFLOW_PORT)

run: setup ## The whole system locally: MLflow on SQLite, train if no champion, serve
	@$(RUN) python scripts/stack.py run --mlflow-port $(MLFLOW_PORT)

test: setup lint lint-infra ## Every test: lint, unit, integration and end-to-end
	@$(RUN) pytest

test-fast: setup ## Unit tests only: no server started, nothing trained (enforced)
	@CHURN_NO_SERVERS=1 $(RUN) pytest -m "not integration and not e2e"

lint: setup ## ruff check and ruff format --check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

lint-infra: uv ## terraform fmt, checkov, workflow schema + actionlint, hadolint (pinned uv tools)
	@UV="$(UV)" bash .github/scripts/lint-infra.sh

format: setup ## Apply ruff fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

bench: setup ## Run the benchmarks (they print figures; serving and lookups need wrk and taskset, images Docker)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	@$(RUN) python benchmarks/train_bench.py
	@$(RUN) python benchmarks/serve_bench.py
	@$(RUN) python benchmarks/hostile_bench.py
	@$(RUN) python benchmarks/pyfunc_bench.py
	@$(RUN) python benchmarks/score_bench.py
	@$(RUN) python benchmarks/lookup_bench.py
	@$(RUN) python benchmarks/image_bench.py --build

clean: ## Remove caches, local MLflow data and the virtualenv
	rm -rf .venv .cache .pytest_cache .ruff_cache
