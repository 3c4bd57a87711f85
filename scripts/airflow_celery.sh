#!/usr/bin/env bash
# Airflow 3 with the CeleryExecutor, the way production runs it, on one machine:
# Redis as the broker, PostgreSQL as Airflow's metadata database (and the warehouse),
# api-server + scheduler + dag-processor + triggerer, and N Celery workers (default 2).
#
#   make airflow-celery                           # or: scripts/airflow_celery.sh
#   CELERY_WORKERS=1 AIRFLOW_PORT=8081 scripts/airflow_celery.sh
#
# Settings (environment; defaults in brackets):
#   AIRFLOW_CELERY_DB_URL  Airflow metadata DB [postgresql+psycopg://postgres@127.0.0.1:5432/airflow_celery]
#                          (created if missing when it is a local PostgreSQL database)
#   CELERY_BROKER_URL      [redis://127.0.0.1:6379/0]
#   LEADFLOW_DATABASE_URL  the warehouse [from leadflow.yaml]; use PostgreSQL: workers run in parallel
#   CELERY_WORKERS [2], CELERY_CONCURRENCY [2] task slots per worker, AIRFLOW_BIND [127.0.0.1]
#   CELERY_LOG_PORT_BASE [8793]: worker i serves its task logs on this port + i
# Stop with Ctrl-C (or SIGTERM): every component started here is stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/airflow" ]] || { echo "error: $VENV/bin/airflow not found; run 'make install'" >&2; exit 1; }
"$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('celery') is None)" \
  || { echo "error: the Celery provider is missing: $VENV/bin/pip install -e '.[celery]'" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home_celery}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
DB_URL="${AIRFLOW_CELERY_DB_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/airflow_celery}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$DB_URL"
# Airflow also opens the metadata DB asynchronously; psycopg 3 does both (no asyncpg needed)
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC:-$DB_URL}"
export AIRFLOW__CELERY__BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-db+$DB_URL}"
export AIRFLOW__CORE__HOSTNAME_CALLABLE="leadflow.orchestration.workers.hostname"
PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__HOST="${AIRFLOW_BIND:-127.0.0.1}"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://127.0.0.1:$PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$PORT/execution/}"
# every component must sign and accept the same task tokens
export AIRFLOW__API_AUTH__JWT_SECRET="${AIRFLOW__API_AUTH__JWT_SECRET:-$(python -c 'import secrets; print(secrets.token_hex(32))')}"
export LEADFLOW_CONFIG="${LEADFLOW_CONFIG:-$ROOT/leadflow.yaml}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
WORKERS="${CELERY_WORKERS:-2}"
CONCURRENCY="${CELERY_CONCURRENCY:-2}"
mkdir -p "$AIRFLOW_HOME/logs"

# the metadata database: create it when it is a local PostgreSQL one that does not exist yet
python - "$DB_URL" <<'PY'
import sys
import sqlalchemy as sa
url = sa.engine.make_url(sys.argv[1])
if url.get_backend_name() == "postgresql":
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first():
            c.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
PY
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/migrate.log"; exit 1; }

PIDS=()
stop() { trap - INT TERM EXIT; for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; }
trap stop INT TERM EXIT
start() {   # name, command...
  local name=$1; shift
  "$@" > "$AIRFLOW_HOME/$name.log" 2>&1 &
  PIDS+=($!)
}
start api-server airflow api-server
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer
for i in $(seq 1 "$WORKERS"); do
  # one name, log-server port and Celery node name per worker (they share this machine)
  LEADFLOW_WORKER_NAME="worker$i" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((${CELERY_LOG_PORT_BASE:-8793} + i)) \
    start "worker$i" airflow celery worker --concurrency "$CONCURRENCY" --celery-hostname "worker$i@%h"
done

cat <<MSG
leadflow on Airflow with the CeleryExecutor ($WORKERS workers x $CONCURRENCY slots)
  UI / API      : $AIRFLOW__API__BASE_URL  (user admin; password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)
  metadata DB   : ${DB_URL%%@*}@...  broker: $AIRFLOW__CELERY__BROKER_URL
  logs          : $AIRFLOW_HOME/{api-server,scheduler,dag-processor,triggerer,worker*}.log
Stop with Ctrl-C.
MSG
wait -n "${PIDS[@]}" || true
echo "a component stopped; stopping the others (see the logs above)" >&2
