"""Run records: a step is recorded when it starts and when it ends, with wall-clock times beside
the logical run date, so a killed run shows as interrupted and a backfill is told from a live run."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from leadflow.monitor import run_step, step
from leadflow.status import status_rows
from leadflow.store.schema import pipeline_runs
from tests.conftest import ROOT

D = date(2026, 11, 26)
DOC = {"sources": []}


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_step_records_wall_clock_times_beside_the_logical_date(engine, make_ctx) -> None:
    ctx = make_ctx(DOC, engine, D)
    before = _utcnow() - timedelta(seconds=1)
    run_step(ctx, "ingest", lambda c: {"n": 1})
    after = _utcnow() + timedelta(seconds=1)
    with engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert row.run_date == D                                   # the logical date, for the data
    assert before <= row.started_at <= row.finished_at <= after  # the real time, for people
    assert row.status == "success" and row.counts["n"] == 1


def test_running_step_is_recorded_before_it_ends(engine, make_ctx) -> None:
    ctx = make_ctx(DOC, engine, D)
    with step(ctx, "load"):
        with engine.connect() as c:
            row = c.execute(sa.select(pipeline_runs)).one()
        assert row.status == "running" and row.finished_at is None
        runs, _ = status_rows(engine)
        assert runs[0]["status"] == "running"
    with engine.connect() as c:
        assert c.execute(sa.select(pipeline_runs.c.status)).scalar_one() == "success"


KILLED = """
import os, signal, sys
from datetime import date
from leadflow import config as cfg
from leadflow.context import RunContext
from leadflow.monitor import run_step
from leadflow.store import db
ctx = RunContext(cfg.load(sys.argv[1]), db.engine(os.environ["LEADFLOW_DATABASE_URL"]),
                 date(2026, 11, 26), "test:2026-11-26", "test")
run_step(ctx, "ingest", lambda c: {"n": 1})
run_step(ctx, "quality", lambda c: os.kill(os.getpid(), signal.SIGKILL))
"""


def _kill_a_run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "leadflow.yaml")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    return r


def test_killed_run_shows_as_interrupted_in_status(engine, make_ctx, tmp_path, capsys) -> None:
    from leadflow.cli import main
    make_ctx(DOC, engine, D)                    # writes the config and points it at the warehouse
    _kill_a_run(tmp_path)
    runs, extra = status_rows(engine)
    assert runs[0]["run_id"] == "test:2026-11-26" and runs[0]["status"] == "interrupted"
    assert any("quality" in w and "interrupted" in w for w in extra["warnings"])
    assert main(["status", "-c", str(tmp_path / "leadflow.yaml")]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "success" not in out


def test_rerun_after_a_kill_records_the_old_step_as_interrupted(engine, make_ctx, tmp_path) -> None:
    ctx = make_ctx(DOC, engine, D)
    _kill_a_run(tmp_path)
    ctx.run_id = "test:2026-11-26"
    run_step(ctx, "quality", lambda c: {"rows": 0})
    with engine.connect() as c:
        rows = c.execute(sa.select(pipeline_runs.c.task, pipeline_runs.c.status)
                         .order_by(pipeline_runs.c.id)).all()
    assert [tuple(r) for r in rows] == [("ingest", "success"), ("quality", "interrupted"),
                                        ("quality", "success")]
    runs, _ = status_rows(engine)
    assert runs[0]["status"] == "success"       # the last attempt of each step counts
