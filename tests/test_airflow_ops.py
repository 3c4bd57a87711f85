"""Airflow operations: the local Airflow binds to loopback, runs keep their order, late runs alert
once and failed runs show no upcoming deadline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


# --------------------------------------------------------------------------- a failing quality step
import sqlalchemy as sa  # noqa: E402
from airflow.sdk.exceptions import AirflowFailException  # noqa: E402

from leadflow.store.schema import pipeline_runs  # noqa: E402
from tests.test_quality_gate import (RUN_ID, _stage_leads, _status, airflow_context,  # noqa: E402,F401
                                     warehouse)


def _fail_quality(warehouse) -> AirflowFailException:
    from leadflow.orchestration import runner
    _stage_leads(warehouse.engine, 10, broken=6)              # 60% > fail_share 50%
    try:
        runner.run_task("quality", airflow_context())
    except AirflowFailException as e:
        return e
    raise AssertionError("the quality gate did not fail")


def test_failed_quality_step_keeps_its_counts_and_reasons(warehouse) -> None:
    from leadflow.orchestration import summary
    from leadflow.status import quality_by_source, status_rows
    _fail_quality(warehouse)
    with warehouse.engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert row.status == "failed" and "quality gate failed" in row.message
    web = row.counts["by_source"]["web"]
    assert (web["rows"], web["passed"], web["quarantined"]) == (10, 4, 6)
    assert web["expectations"]["email_syntax"] == 6
    assert row.counts["failed_sources"] == ["web"]
    [q] = quality_by_source(warehouse.engine)
    assert (q["source"], q["rows"], q["quarantined"]) == ("web", 10, 6) and "email_syntax" in q["top_failures"]
    runs, extra = status_rows(warehouse.engine)
    assert runs[0]["status"] == "failed" and runs[0]["quarantined"] == 6
    data = summary.collect(warehouse.engine, RUN_ID)
    assert data["status"] == "failed" and "quarantined=6" in data["quality"]


def test_status_shows_the_failed_run_as_failed(warehouse) -> None:
    _fail_quality(warehouse)
    text = _status(warehouse.config, warehouse.url)
    run_line = next(line for line in text.splitlines() if RUN_ID in line)
    cells = [c.strip() for c in run_line.replace("┃", "│").split("│") if c.strip()]
    assert cells[:6] == [RUN_ID, "2026-11-26", "1", "failed", "10", "6"]
    assert "quality, latest steps" in text and "email_syntax" in text


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
