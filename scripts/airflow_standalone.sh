#!/usr/bin/env bash
# Start Airflow 3 (`airflow standalone`: scheduler, dag-processor, triggerer, api-server) with the
# project's DAGs on a project-local SQLite metadata database. For trying leadflow on your machine;
# see docs/operations.md for a production set-up.
#
#   scripts/airflow_standalone.sh            # or: make airflow
#   AIRFLOW_PORT=8081 scripts/airflow_standalone.sh
#   AIRFLOW_BIND=0.0.0.0 AIRFLOW__API__BASE_URL=http://myhost:8080 scripts/airflow_standalone.sh
#                                              # expose it beyond this machine (on purpose only)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/airflow" ]]; then
  echo "error: $VENV/bin/airflow not found; run 'make install' (or set VENV)" >&2
  exit 1
fi
export PATH="$VENV/bin:$PATH"                  # standalone starts its components as `airflow ...`

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"      # git-ignored
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
PORT="${AIRFLOW_PORT:-8080}"
# Loopback only by default: the UI can trigger and clear runs. AIRFLOW_BIND=0.0.0.0 exposes it.
export AIRFLOW__API__HOST="${AIRFLOW_BIND:-127.0.0.1}"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://127.0.0.1:$PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$PORT/execution/}"
export LEADFLOW_CONFIG="${LEADFLOW_CONFIG:-$ROOT/leadflow.yaml}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$AIRFLOW_HOME"

PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
WAREHOUSE="${LEADFLOW_DATABASE_URL:-SQLite file in the data folder of leadflow.yaml}"
cat <<MSG
leadflow on Airflow (standalone, development only)
  UI / API      : $AIRFLOW__API__BASE_URL  (listening on $AIRFLOW__API__HOST:$PORT)
  user          : admin
  password file : $PASSWORDS  (written on first start; 'cat' it to log in)
  AIRFLOW_HOME  : $AIRFLOW_HOME
  DAGs          : $AIRFLOW__CORE__DAGS_FOLDER
  leadflow.yaml : $LEADFLOW_CONFIG
  warehouse     : $WAREHOUSE
DAGs start paused: unpause lead_handoff_daily in the UI or with
  AIRFLOW_HOME=$AIRFLOW_HOME $VENV/bin/airflow dags unpause lead_handoff_daily
Stop with Ctrl-C.
MSG
exec airflow standalone
