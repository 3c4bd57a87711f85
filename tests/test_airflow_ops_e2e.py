"""Operating lead_handoff_daily as a data team does, on the real scheduler and api-server (slow tier):
days run in order, a failed run is fixed and re-run with "Clear" through the REST API, and no
deadline lingers on a failed run.

Airflow runs in subprocesses with their own AIRFLOW_HOME (helpers from tests/test_dags_e2e.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.test_dags_e2e import DAG_ID, ROOT, airflow_services, make_project, meta, migrate, wait_for

pytestmark = pytest.mark.slow


class Api:
    """The Airflow REST API v2 as the UI uses it (JWT from the simple auth manager's login)."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.base = env["AIRFLOW__API__BASE_URL"]
        pw = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": pw},
                               auth=False)[1]["access_token"]

    def call(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")[:2000]


def _set_fail_share(config: Path, share: float) -> None:
    doc = yaml.safe_load(config.read_text())
    for s in doc["sources"]:
        s.setdefault("quality", {})["fail_share"] = share
        s["quality"]["warn_share"] = min(share, s["quality"].get("warn_share", 0.05))
    config.write_text(yaml.safe_dump(doc, sort_keys=False))


def _record_day(url: str, day: date) -> None:
    """A day that ran before this test (its run records only): the warehouse has history."""
    from leadflow.store import db
    from leadflow.store.schema import pipeline_runs
    now = datetime(2026, 1, 1)
    with db.engine(url).begin() as c:
        for t in ("ingest:web_leads", "quality", "load", "score", "queue", "deliver"):
            c.execute(pipeline_runs.insert().values(
                run_id=f"{DAG_ID}:{day}", job=DAG_ID, task=t, run_date=day, status="success",
                started_at=now, finished_at=now, counts={}))


def _finished(home: Path, run_id: str) -> Any:
    r = meta(home, "SELECT state FROM dag_run WHERE run_id=?", run_id)
    return r[0][0] if r and r[0][0] in ("success", "failed") else None


def _ti(home: Path, run_id: str, task_id: str) -> str | None:
    r = meta(home, "SELECT state FROM task_instance WHERE run_id=? AND task_id=?", run_id, task_id)
    return r[0][0] if r else None


def test_days_in_order_and_clear_through_the_rest_api(tmp_path: Path) -> None:
    from leadflow.orchestration import lateness
    from leadflow.store import db
    from leadflow.store.schema import handoffs, pipeline_runs

    home = tmp_path / "airflow_home"
    home.mkdir()
    env = migrate(home)
    proj = tmp_path / "proj"
    proj.mkdir()
    cfg = proj / "leadflow.yaml"
    env["LEADFLOW_CONFIG"] = str(cfg)
    cfg.write_text((ROOT / "leadflow.yaml").read_text())         # registry for parsing; replaced below
    with airflow_services(env, home) as env:
        nxt = wait_for("the DAG to be parsed", lambda: meta(
            home, "SELECT next_dagrun FROM dag WHERE dag_id=? AND next_dagrun IS NOT NULL", DAG_ID),
            120, home)[0][0]
        d3 = datetime.fromisoformat(str(nxt)).date()   # the run unpausing creates by itself
        d1, d2 = d3 - timedelta(days=2), d3 - timedelta(days=1)
        # demo data for d2 and d3; a strict gate (0.1%) that the demo's broken emails trip
        config, url = make_project(proj, end_date=d3, fail_share=0.001)
        assert config == cfg
        env["LEADFLOW_DATABASE_URL"] = url
        _record_day(url, d1)
        api = Api(env, home)

        # unpausing creates the scheduler's own run for d3 while d2 has not run: it must not hand
        # off d3 (its first task fails, naming d2). Then an operator runs d2 by hand. (Queuing d2
        # before unpausing would leave which run the scheduler starts first to a race.)
        code, out = api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        assert code == 200, out
        r3 = wait_for("the scheduled run", lambda: (meta(
            home, "SELECT run_id FROM dag_run WHERE dag_id=? AND run_type='scheduled'", DAG_ID)
            or [[None]])[0][0], 120, home)
        assert wait_for("the d3 run to end", lambda: _finished(home, r3), 400, home) == "failed"
        code, run = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns",
                             {"logical_date": None, "conf": {"run_date": str(d2)}})
        assert code == 200, run
        r2 = run["dag_run_id"]
        assert wait_for("the d2 run to end", lambda: _finished(home, r2), 400, home)
        # d2: the strict gate holds its sources back (their quality_gate tasks fail, nothing of
        # them is handed off) while the run itself ends "success with warnings"
        assert (_finished(home, r2), _finished(home, r3)) == ("success", "failed")
        assert _ti(home, r2, "quality_gate") == "failed"
        assert _ti(home, r3, "previous_day") == "failed"             # d3 waited for d2
        assert _ti(home, r3, "quality") in ("upstream_failed", None)
        eng = db.engine(url)
        with eng.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(handoffs)).scalar() == 0
        # no deadline lingers on the runs: Airflow's table is empty, ours sees nothing open
        assert meta(home, "SELECT count(*) FROM deadline")[0][0] == 0
        assert lateness.open_attempts(eng, DAG_ID, "deliver", datetime(2026, 1, 1)) == []

        # the fix (a sane gate), then Clear through the REST API, as the docs recommend
        _set_fail_share(cfg, 0.5)
        for rid in (r2, r3):
            code, out = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns/{rid}/clear",
                                 {"dry_run": False})
            assert code == 200, f"Clear of {rid}: HTTP {code}: {out}"
            assert wait_for(f"{rid} to re-run", lambda rid=rid: _finished(home, rid), 400,
                            home) == "success", meta(
                home, "SELECT task_id, state FROM task_instance WHERE run_id=?", rid)

    with eng.connect() as c:
        per_day = dict(c.execute(sa.select(handoffs.c.run_date, sa.func.count())
                                 .group_by(handoffs.c.run_date)).all())
        ends = dict(c.execute(sa.select(pipeline_runs.c.run_date, sa.func.max(pipeline_runs.c.finished_at))
                              .where(pipeline_runs.c.task.like("deliver%"),        # every partition
                                         pipeline_runs.c.status == "success")
                              .group_by(pipeline_runs.c.run_date)).all())
        starts = dict(c.execute(sa.select(pipeline_runs.c.run_date, sa.func.min(pipeline_runs.c.started_at))
                                .where(pipeline_runs.c.task == "load")
                                .group_by(pipeline_runs.c.run_date)).all())
    assert per_day.get(d2, 0) > 0 and per_day.get(d3, 0) > 0, per_day
    assert starts[d3] > ends[d2], "d3 was loaded before d2 had been handed off"
