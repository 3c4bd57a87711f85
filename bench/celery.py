"""One lead_handoff_daily day on the CeleryExecutor with 1 and with 2 workers (wall times).

    python -m bench.celery --leads 100000 --workers 1 2 2 1

For each worker count: fresh PostgreSQL databases (Airflow metadata, warehouse), demo data for one
day on a shared storage root (``storage.url``, a ``file://`` folder), ``scripts/airflow_celery.sh``
with that many workers (one task slot each), unpause, and time the run the scheduler creates from
its start to its end (Airflow's own dag_run times), with each task's duration, worker and time
queued. The machine's load average before and after each run is printed beside it: on a shared
machine, run the counts in alternating order (1 2 2 1) so a change of load shows instead of
passing for (anti-)scaling. Needs Redis and PostgreSQL on 127.0.0.1 (as the tests do). Databases
are dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = os.environ.get("LEADFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DAG_ID = "lead_handoff_daily"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin() -> sa.Engine:
    return sa.create_engine(sa.engine.make_url(PG).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _recreate(name: str) -> str:
    with _admin().connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    with _admin().connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _project(root: Path, leads: int, day: datetime, partitions: int) -> Path:
    """The project's leadflow.yaml on a shared storage root (every file location relative)."""
    from leadflow import demo
    doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text())
    doc.pop("paths", None)
    doc["storage"] = {"url": f"file://{root / 'shared'}"}
    doc["partitions"] = {"score": partitions, "deliver": partitions}
    for s in doc.get("sources", []):
        if s["connector"].get("type") == "file":
            s["connector"]["min_age_seconds"] = 0
    cfg = root / "leadflow.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    demo.generate(root / "shared" / "data", leads=leads, seed=7, days=1, end_date=day.date())
    return cfg


def run_once(workers: int, leads: int, work: Path, partitions: int = 2) -> dict[str, object]:
    tag = f"{workers}_{os.getpid()}"
    load_before = os.getloadavg()
    meta_url, wh = _recreate(f"af_bench_{tag}"), _recreate(f"wh_bench_{tag}")
    home, proj = work / f"home{workers}_{tag}_{time.monotonic_ns()}", work / f"proj{workers}_{time.monotonic_ns()}"
    home.mkdir()
    proj.mkdir()
    cfg = proj / "leadflow.yaml"
    cfg.write_text((ROOT / "leadflow.yaml").read_text())
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LEADFLOW_"))}
    env.update({"AIRFLOW_HOME": str(home), "VENV": str(BIN.parent), "AIRFLOW_PORT": str(port),
                "AIRFLOW_CELERY_DB_URL": meta_url, "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{14 - workers}",
                "CELERY_WORKERS": str(workers), "CELERY_CONCURRENCY": "1",
                "LEADFLOW_CONFIG": str(cfg), "LEADFLOW_DATABASE_URL": wh, "LEADFLOW_DATA_DOCS": "0",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5", "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING", "PATH": f"{BIN}:{os.environ['PATH']}"})
    log = open(home / "script.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "airflow_celery.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    meta = sa.create_engine(meta_url)
    try:
        def q(sql: str) -> list[tuple]:
            try:
                with meta.connect() as c:
                    return [tuple(r) for r in c.execute(sa.text(sql), {"d": DAG_ID}).all()]
            except sa.exc.DBAPIError:
                return []

        def wait(fn, timeout: float):  # noqa: ANN001, ANN202
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                v = fn()
                if v:
                    return v
                if proc.poll() is not None:
                    raise SystemExit((home / "script.log").read_text()[-3000:])
                time.sleep(2)
            raise SystemExit(f"timed out; logs in {home}")

        nxt = wait(lambda: q("SELECT next_dagrun FROM dag WHERE dag_id=:d AND next_dagrun IS NOT NULL"), 300)[0][0]
        _project(proj, leads, nxt, partitions)   # the day of the run unpausing creates
        from leadflow.store import db
        db.init(db.engine(wh))
        airflow_env = dict(env, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url,
                           AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=meta_url)
        subprocess.run([str(BIN / "airflow"), "dags", "unpause", DAG_ID], env=airflow_env, check=True,
                       capture_output=True, timeout=120)
        t0 = time.perf_counter()
        state = wait(lambda: (lambda r: r if r and r[0][0] in ("success", "failed") else None)(
            q("SELECT state, start_date, end_date FROM dag_run WHERE dag_id=:d")), 3600)[0]
        wall = time.perf_counter() - t0
        tasks = q("SELECT task_id, map_index, hostname, "
                  "round(extract(epoch from end_date - start_date)::numeric, 1), "
                  "round(extract(epoch from start_date - queued_dttm)::numeric, 1) "
                  "FROM task_instance WHERE dag_id=:d ORDER BY start_date")
        return {"workers": workers, "leads": leads, "partitions": partitions, "state": state[0],
                "run_seconds": round((state[2] - state[1]).total_seconds(), 1),
                "unpause_to_end_seconds": round(wall, 1),
                "load_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
                "cores": os.cpu_count(),
                "tasks": [(t, m, h, float(s or 0), float(w or 0)) for t, m, h, s, w in tasks]}
    finally:
        meta.dispose()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _drop(f"af_bench_{tag}")
        _drop(f"wh_bench_{tag}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 2, 1])
    ap.add_argument("--partitions", type=int, default=2, help="partitions of score and deliver")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_celery_") as tmp:
        for n in args.workers:
            out = run_once(n, args.leads, Path(tmp), args.partitions)
            print(json.dumps(out, default=str), flush=True)


if __name__ == "__main__":
    main()
