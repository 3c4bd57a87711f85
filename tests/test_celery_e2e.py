"""lead_handoff_daily on Airflow's CeleryExecutor, as `make airflow-celery` runs it (slow tier):
Redis as the broker, PostgreSQL as Airflow's metadata database and as the warehouse, two Celery
workers. A two-day backfill gives the same queue, scores, people and marts as two dag.test()
runs on their own PostgreSQL warehouse, and the mapped ingest tasks ran on both workers (days in
order over three days: tests/test_dags_e2e.py and tests/test_airflow_ops_e2e.py).

Everything this test creates is its own: two databases (dropped afterwards), a Redis database
number, an AIRFLOW_HOME; the components are stopped by their process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.test_dags_e2e import (
    BIN,
    DAG_ID,
    ROOT,
    airflow_env,
    assert_same,
    finish_dagtest,
    make_project,
    migrate,
    snapshot,
    start_dagtest,
)
from tests.test_orchestration import free_port

pytestmark = pytest.mark.slow
REDIS = os.environ.get("LEADFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_ok() -> str | None:
    try:
        import redis
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except Exception as e:  # noqa: BLE001
        return f"Redis not reachable at {REDIS}: {type(e).__name__}"
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        return "apache-airflow-providers-celery not installed (pip install -e '.[celery]')"
    return None


@contextmanager
def pg_databases(*names: str) -> Iterator[list[str]]:
    """Fresh PostgreSQL databases on the test server; dropped afterwards."""
    base = sa.engine.make_url(PG_URL)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    urls = []
    try:
        with admin.connect() as c:
            for n in names:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
                c.execute(sa.text(f'CREATE DATABASE "{n}"'))
                urls.append(base.set(database=n).render_as_string(hide_password=False))
        yield urls
    finally:
        with admin.connect() as c:
            for n in names:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def celery_airflow(env: dict[str, str], home: Path) -> Iterator[dict[str, str]]:
    """scripts/airflow_celery.sh (what `make airflow-celery` runs) until the api-server answers."""
    port = int(env["AIRFLOW_PORT"])
    log = open(home / "celery_script.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "airflow_celery.sh")], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("airflow_celery.sh ended:\n" + (home / "celery_script.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2):
                    break
            except OSError:
                time.sleep(2)
        else:
            pytest.fail("api-server did not come up:\n" + _logs(home))
        yield env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # stragglers (celery pool children)
        except ProcessLookupError:
            pass
        log.close()


def _logs(home: Path) -> str:
    return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-2000:]
                     for p in sorted(home.glob("*.log")))


def _wait(what: str, fn: Any, timeout: float, home: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(3)
    pytest.fail(f"timed out waiting for {what}\n{_logs(home)}")


def _cli(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, f"airflow {' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_celery_backfill_matches_dag_test(tmp_path: Path) -> None:
    reason = _redis_ok()
    if reason:
        if os.environ.get("CI") == "true":       # .ci/run starts Redis: missing is a failure there
            pytest.fail(reason)
        pytest.skip(reason)
    tag = f"{os.getpid()}_{int(time.time()) % 100000}"
    with pg_databases(f"af_celery_{tag}", f"wh_celery_{tag}", f"wh_dagtest_{tag}") as (meta_url, wh, wh_single):
        home = tmp_path / "airflow_home"
        home.mkdir()
        proj = tmp_path / "proj"
        cfg = proj / "leadflow.yaml"
        proj.mkdir()
        cfg.write_text((ROOT / "leadflow.yaml").read_text())     # registry for parsing; replaced below
        port = free_port()
        env = airflow_env(home)
        env.update({
            "VENV": str(BIN.parent), "AIRFLOW_PORT": str(port), "AIRFLOW_CELERY_DB_URL": meta_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": meta_url,
            "CELERY_BROKER_URL": f"{REDIS}/{1 + os.getpid() % 15}", "CELERY_WORKERS": "2",
            "CELERY_CONCURRENCY": "1", "CELERY_LOG_PORT_BASE": str(free_port() - 1),
            "LEADFLOW_CONFIG": str(cfg), "LEADFLOW_DATABASE_URL": wh,
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2", "AIRFLOW__API__WORKERS": "1",
        })
        for k in ("AIRFLOW__CORE__EXECUTOR",):
            env.pop(k, None)
        meta = sa.create_engine(meta_url)
        t0 = time.perf_counter()
        with celery_airflow(env, home):
            cli_env = dict(env, AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
                           AIRFLOW__CELERY__BROKER_URL=env["CELERY_BROKER_URL"])

            def q(sql: str, **kw: Any) -> list[Any]:
                with meta.connect() as c:
                    return list(c.execute(sa.text(sql), kw).all())

            nxt = _wait("the DAG to be parsed", lambda: q(
                "SELECT next_dagrun FROM dag WHERE dag_id=:d AND next_dagrun IS NOT NULL", d=DAG_ID),
                180, home)[0][0]
            d3 = nxt.date() if isinstance(nxt, datetime) else datetime.fromisoformat(str(nxt)).date()
            days = [d3 - timedelta(days=1), d3]
            config, _ = make_project(proj, end_date=days[0] - timedelta(days=1))
            assert config == cfg
            from leadflow.store import db
            db.init(db.engine(wh))
            # the same two days by dag.test() on their own project and warehouse, meanwhile
            single_cfg, _ = make_project(tmp_path / "single", end_date=days[0] - timedelta(days=1))
            db.init(db.engine(wh_single))
            (tmp_path / "dagtest_home").mkdir()
            single = start_dagtest(migrate(tmp_path / "dagtest_home"), single_cfg, wh_single, days)

            _cli(cli_env, "backfill", "create", "--dag-id", DAG_ID,
                 "--from-date", f"{days[0]}T05:00:00+00:00", "--to-date", f"{days[-1]}T05:00:00+00:00",
                 "--max-active-runs", "1")
            _cli(cli_env, "dags", "unpause", DAG_ID)
            states = _wait("the backfill on Celery", lambda: (lambda rows: rows if len(rows) == len(days) and all(
                s in ("success", "failed") for _, s in rows) else None)(q(
                    "SELECT logical_date, state FROM dag_run WHERE dag_id=:d AND run_type='backfill'",
                    d=DAG_ID)), 900, home)
            t_celery = time.perf_counter() - t0
            assert all(s == "success" for _, s in states), f"{states}\n{_logs(home)}"
            hosts = q("SELECT task_id, hostname, count(*) FROM task_instance WHERE dag_id=:d "
                      "GROUP BY task_id, hostname ORDER BY task_id, hostname", d=DAG_ID)
            extra = q("SELECT run_id FROM dag_run WHERE dag_id=:d AND run_type='scheduled'", d=DAG_ID)
        meta.dispose()
        import redis
        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()     # this test's database number only
        runs = finish_dagtest(single, len(days), timeout=600)
        assert [r["state"] for r in runs] == ["success"] * len(days), runs
        print(f"celery: {len(days)}-day backfill on 2 workers {t_celery:.0f} s; task hosts {hosts}")
        ingest_hosts = {h for t, h, _n in hosts if t == "ingest"}
        assert ingest_hosts == {"worker1", "worker2"}, hosts      # mapped ingest on both workers
        # every task that ran, ran on a worker (tasks mapped over nothing never run: no host)
        assert {h for _t, h, _n in hosts if h} <= {"worker1", "worker2"}
        assert extra == [], f"scheduler created runs of its own: {extra}"
        celery, dagtest = snapshot(wh, d3), snapshot(wh_single, d3)
        assert len(celery["handoffs"]) > 0
        assert_same(celery, dagtest)
