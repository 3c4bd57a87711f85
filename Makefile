# leadflow — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__LOGGING__LOGGING_LEVEL ?= WARNING
export LEADFLOW_CONFIG ?= $(CURDIR)/leadflow.yaml
DEMO_DATE ?= 2026-11-26
DEMO_LEADS ?= 5000
PYTEST_ARGS ?=

.PHONY: install demo crm-demo lint test test-fast test-celery bench airflow airflow-celery clean migration

install: $(STAMP)

# Install exactly the locked versions (Airflow's constraints file is not reachable here).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . > $(VENV)/editable.log 2>&1 \
	  || (cat $(VENV)/editable.log; exit 1)
	@touch $(STAMP)

$(AIRFLOW_HOME)/airflow.db: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/migrate.log; exit 1)

# The main job on the embedded default: SQLite warehouse, demo data, the daily DAG through Airflow.
demo: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	$(BIN)/leadflow init
	$(BIN)/leadflow demo-data --leads $(DEMO_LEADS) --out data --end-date $(DEMO_DATE)
	$(BIN)/python -m leadflow.orchestration.dagtest lead_handoff_daily $(DEMO_DATE) > $(AIRFLOW_HOME)/demo_dag.log 2>&1 \
	  || (grep -E "DAGTEST|ERROR|Error" $(AIRFLOW_HOME)/demo_dag.log | tail -20; exit 1)
	@grep DAGTEST $(AIRFLOW_HOME)/demo_dag.log | sed 's/^DAGTEST /dag.test: /'
	@echo "lead_handoff_daily ran through Airflow (log: $(AIRFLOW_HOME)/demo_dag.log)"
	$(BIN)/leadflow summary --date $(DEMO_DATE)

# After `make demo`: start the local HubSpot-contract server (leadflow/crm/fakeserver.py) on
# 127.0.0.1:8765, push the demo day's handoffs to it (destination hubspot_local in leadflow.yaml),
# stop it and show `leadflow crm status`. Run it twice: the second push sends nothing.
crm-demo: $(STAMP)
	@mkdir -p data
	@$(BIN)/python -m leadflow.crm.fakeserver hubspot --port 8765 --token demo-token \
	  --owners 1001,1002,1003,1004,1005,1006 > data/crm_demo_server.log 2>&1 & pid=$$!; \
	for i in $$(seq 50); do grep -q "contract server" data/crm_demo_server.log 2>/dev/null && break; sleep 0.2; done; \
	HUBSPOT_TOKEN=demo-token $(BIN)/leadflow crm push --destination hubspot_local --date $(DEMO_DATE); rc=$$?; \
	kill $$pid; wait $$pid; tail -1 data/crm_demo_server.log; \
	$(BIN)/leadflow crm status; exit $$rc

# Style and types first: a failing lint stops `make test` before the (slower) suite runs.
lint: $(STAMP)
	$(BIN)/ruff check leadflow dags tests bench
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow" $(PYTEST_ARGS)

# After changing leadflow/store/schema.py: write the next warehouse migration (then review it).
migration: $(STAMP)
	@test -n "$(m)" || (echo 'usage: make migration m="what changed"'; exit 2)
	$(BIN)/python -m leadflow.store.migrations.new "$(m)"

bench: $(STAMP)
	$(BIN)/python -m bench.pipeline --leads 100000

airflow: $(STAMP) $(AIRFLOW_HOME)/airflow.db
	bash scripts/airflow_standalone.sh

# The CeleryExecutor set-up (Redis broker, PostgreSQL metadata DB, two workers): docs/operations.md.
airflow-celery: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/airflow_home_celery bash scripts/airflow_celery.sh

# The Celery end-to-end test alone (it is also part of `make test`'s slow tier).
test-celery: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist -q tests/test_celery_e2e.py $(PYTEST_ARGS)

clean:
	rm -rf data reports airflow_home airflow_home_celery .pytest_cache
