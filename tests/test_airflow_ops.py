"""Airflow operations: the local Airflow binds to loopback, runs keep their order, late runs alert
once and failed runs show no upcoming deadline."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException

from leadflow.store.schema import pipeline_runs
from tests.test_quality_gate import RUN_ID, _stage_leads, _status, airflow_context
from tests.test_quality_gate import warehouse as _warehouse  # noqa: F401 - fixture, used below

ROOT = Path(__file__).resolve().parents[1]


def _standalone_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Run scripts/airflow_standalone.sh with a stand-in `airflow` that prints its environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "airflow"
    fake.write_text("#!/usr/bin/env bash\nenv | grep '^AIRFLOW__API__'\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(VENV=str(venv), AIRFLOW_HOME=str(tmp_path / "home"), **extra)
    r = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(ln.split("=", 1) for ln in r.stdout.splitlines() if ln.startswith("AIRFLOW__API__"))


def test_make_airflow_binds_to_loopback_by_default(tmp_path: Path) -> None:
    api = _standalone_env(tmp_path)
    assert api["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert api["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8080"


def test_make_airflow_can_be_exposed_on_purpose(tmp_path: Path) -> None:
    api = _standalone_env(tmp_path, AIRFLOW_BIND="0.0.0.0", AIRFLOW_PORT="8090",
                          AIRFLOW__API__BASE_URL="http://airflow.example:8090")
    assert api["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert api["AIRFLOW__API__BASE_URL"] == "http://airflow.example:8090"


# --------------------------------------------------------------------------- a held source, a failed step


@pytest.fixture
def warehouse(_warehouse):  # noqa: F811 - the fixture from tests/test_quality_gate.py
    return _warehouse


def _fail_quality(warehouse) -> AirflowFailException:
    """60% of the source's rows fail (fail_share 50%): the quality step holds the source back
    (a warning step) and its quality_gate task fails; returns the gate's exception."""
    from leadflow.orchestration import runner
    _stage_leads(warehouse.engine, 10, broken=6)              # 60% > fail_share 50%
    out = runner.run_task("quality", airflow_context(), keep=("held",))
    assert out["held"] == ["web"], out
    try:
        runner.quality_gate("web", airflow_context())
    except AirflowFailException as e:
        return e
    raise AssertionError("the quality gate did not fail")


def test_held_source_keeps_its_counts_and_reasons(warehouse) -> None:
    from leadflow.orchestration import summary
    from leadflow.status import quality_by_source, status_rows
    _fail_quality(warehouse)
    with warehouse.engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert row.status == "warning" and "quality gate" in row.message and "web" in row.message
    web = row.counts["by_source"]["web"]
    assert (web["rows"], web["passed"], web["quarantined"]) == (10, 4, 6)
    assert web["expectations"]["email_syntax"] == 6
    assert row.counts["failed_sources"] == ["web"] and row.counts["held"] == ["web"]
    [q] = quality_by_source(warehouse.engine)
    assert (q["source"], q["rows"], q["quarantined"]) == ("web", 10, 6) and "email_syntax" in q["top_failures"]
    runs, extra = status_rows(warehouse.engine)
    assert runs[0]["status"] == "warning" and runs[0]["quarantined"] == 6
    data = summary.collect(warehouse.engine, RUN_ID)
    assert data["status"] == "warning" and "quarantined=6" in data["quality"]


def test_status_shows_the_failed_run_as_failed(warehouse, monkeypatch) -> None:
    from leadflow import quality
    from leadflow.errors import LeadflowError
    from leadflow.orchestration import runner
    _stage_leads(warehouse.engine, 10, broken=6)
    real = quality.validate_all

    def failing(ctx, *a, **kw):          # the step does its work, then fails (e.g. a lost file)
        real(ctx, *a, **kw)
        raise LeadflowError("quality: reports folder is not writable")
    monkeypatch.setattr(quality, "validate_all", failing)
    with pytest.raises(AirflowFailException):
        runner.run_task("quality", airflow_context())
    text = _status(warehouse.config, warehouse.url)
    run_line = next(line for line in text.splitlines() if RUN_ID in line)
    cells = [c.strip() for c in run_line.replace("┃", "│").split("│") if c.strip()]
    assert cells[:4] == [RUN_ID, "2026-11-26", "1", "failed"]
    assert "quality: reports folder is not writable" in text


def test_status_names_a_held_source(warehouse) -> None:
    _fail_quality(warehouse)
    text = _status(warehouse.config, warehouse.url)
    run_line = next(line for line in text.splitlines() if RUN_ID in line)
    cells = [c.strip() for c in run_line.replace("┃", "│").split("│") if c.strip()]
    assert cells[:6] == [RUN_ID, "2026-11-26", "1", "warning", "10", "6"]
    assert "quality, latest steps" in text and "email_syntax" in text and "web" in text


def test_discarded_rows_stay_in_the_days_counts(warehouse) -> None:
    from datetime import date

    from leadflow.quality import quarantine as qr
    from leadflow.status import _NoSettings, run_summary, status_rows
    _fail_quality(warehouse)
    ids = [int(i) for i in qr.list_entries(warehouse.engine, "web", "open", None, 100)["quarantine_id"]]
    qr.discard(warehouse.engine, ids[:2], by="ops", why="test rows")
    s = run_summary(warehouse.engine, _NoSettings(), date(2026, 11, 26))
    assert (s["quarantined"], s["discarded"], s["quarantine_open"]) == (6, 2, 4)
    runs, extra = status_rows(warehouse.engine)
    assert runs[0]["quarantined"] == 6 and extra["quarantine_open"] == 4


def test_failure_alert_says_what_to_do_next(warehouse, monkeypatch) -> None:
    from leadflow.orchestration import alerts
    from leadflow.store.schema import ingest_batches
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080")
    e = _fail_quality(warehouse)
    with warehouse.engine.connect() as c:
        batch = c.execute(sa.select(ingest_batches.c.batch_id)).scalar_one()
    ctx = airflow_context()
    ctx["exception"] = e
    text = alerts.alert_from_task_context(ctx).text()
    assert "source: web" in text
    assert f"batches: {batch}" in text
    assert ("log: http://airflow.example:8080/dags/lead_handoff_daily/runs/scheduled__2026-11-26"
            "/tasks/quality?try_number=1") in text
    assert "next: leadflow quarantine list --source web" in text
    assert "-at-example.com" not in text


# --------------------------------------------------------------------------- late runs (our deadline)

T0 = datetime(2026, 11, 27, 5, 0)
JOB, DAY = "lead_handoff_daily", date(2026, 11, 26)


def _step(engine: sa.Engine, task: str, status: str, minutes: int, day: date = DAY) -> None:
    with engine.begin() as c:
        c.execute(pipeline_runs.insert().values(
            run_id=f"{JOB}:{day}", job=JOB, task=task, run_date=day, status=status,
            started_at=T0 + timedelta(minutes=minutes), counts={}))


def _late(engine: sa.Engine, hours: float) -> list[str]:
    from leadflow.orchestration import lateness
    return [lr.run_id for lr in lateness.check(engine, now=T0 + timedelta(hours=hours), notify=False)]


def test_open_run_past_its_limit_alerts_once(engine) -> None:
    _step(engine, "ingest:web", "success", 0)
    _step(engine, "quality", "success", 5)
    _step(engine, "load", "running", 10)
    assert _late(engine, 3.9) == []
    assert _late(engine, 4.1) == [f"{JOB}:{DAY}"]
    assert _late(engine, 5) == []                       # once per attempt
    with engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs).where(pipeline_runs.c.status == "breached")).one()
    assert row.task == "deadline" and row.run_date == DAY and "4 h 0 min" in row.message


def test_failed_run_shows_no_upcoming_deadline(engine) -> None:
    _step(engine, "ingest:web", "success", 0)
    _step(engine, "quality", "failed", 5)
    assert _late(engine, 10) == []


def test_finished_run_is_not_late(engine) -> None:
    for i, t in enumerate(("ingest:web", "quality", "load", "score", "queue", "deliver")):
        _step(engine, t, "success", i)
    assert _late(engine, 10) == []


def test_cleared_run_gets_a_fresh_clock(engine) -> None:
    _step(engine, "ingest:web", "success", 0)
    _step(engine, "quality", "failed", 5)
    _step(engine, "quality", "success", 6 * 60)           # cleared 6 h later, re-runs
    assert _late(engine, 9) == []                          # 3 h into the new attempt
    assert _late(engine, 10.5) == [f"{JOB}:{DAY}"]


# --------------------------------------------------------------------------- days in order
def _day(engine: sa.Engine, day: date, final_status: str = "success") -> None:
    for i, t in enumerate(("ingest:web", "quality", "load", "score", "queue")):
        _step(engine, t, "success", i, day)
    _step(engine, "deliver", final_status, 9, day)


def test_first_day_may_run(engine) -> None:
    from leadflow.orchestration.ordering import previous_day_problem
    assert previous_day_problem(engine, JOB, DAY) is None


def test_day_waits_for_the_previous_day(engine) -> None:
    from leadflow.orchestration.ordering import previous_day_problem
    d1, d2, d3 = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)
    _day(engine, d1)
    assert previous_day_problem(engine, JOB, d2) is None
    msg = previous_day_problem(engine, JOB, d3)               # d2 has not run
    assert msg and f"day {d2} of {JOB} has not run" in msg and "allow_gap" in msg
    _day(engine, d2, "failed")
    assert "failed" in previous_day_problem(engine, JOB, d3)
    _step(engine, "deliver", "success", 60, d2)                # cleared and re-run: success
    assert previous_day_problem(engine, JOB, d3) is None


def _ctx(run_type: str, conf: dict | None = None) -> dict:
    from types import SimpleNamespace
    d = datetime(2026, 11, 28)
    return {"dag": SimpleNamespace(dag_id=JOB), "logical_date": d,
            "dag_run": SimpleNamespace(conf=conf or {}, logical_date=d, run_after=d,
                                       data_interval_start=d, run_type=run_type)}


def test_airflow_guard_fails_skips_or_allows_a_gap(warehouse) -> None:
    from leadflow.orchestration.runner import previous_day_done
    _day(warehouse.engine, DAY)                                 # 26th done, 27th missing
    with pytest.raises(AirflowFailException) as ei:
        previous_day_done(_ctx("scheduled"))
    assert "day 2026-11-27" in str(ei.value) and ei.value.error_class == "PreviousDayNotDone"
    assert previous_day_done(_ctx("asset_triggered")) is False
    assert previous_day_done(_ctx("manual", {"run_date": "2026-11-28", "allow_gap": True})) is True
    assert previous_day_done(_ctx("manual", {"run_date": "2026-11-27"})) is True
