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

.PHONY: install demo test test-fast bench airflow clean migration

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

test: $(STAMP)
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

clean:
	rm -rf data reports airflow_home .pytest_cache
