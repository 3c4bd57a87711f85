"""The quality gate as Airflow and `leadflow status` see it: a source over its fail threshold is
held back, every other source flows on.

The quality task of the DAGs is ``leadflow.orchestration.runner.run_task("quality", context)``
(dags/lead_handoff_daily.py); these tests call exactly that with an Airflow-shaped context on a
real warehouse — no scheduler needed — so the real ``pipeline.step_quality`` runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.quality.testing import good_row, stage, states
from leadflow.store.schema import pipeline_runs
from tests.conftest import ROOT, write_config

RUN_DATE = datetime(2026, 11, 26, tzinfo=UTC)
RUN_ID = "lead_handoff_daily:2026-11-26"


def airflow_context() -> dict[str, Any]:
    """The parts of an Airflow 3 task context the runner reads (a scheduled daily run)."""
    ti = SimpleNamespace(dag_id="lead_handoff_daily", task_id="quality", run_id="scheduled__2026-11-26",
                         try_number=1)
    return {"ti": ti, "dag": SimpleNamespace(dag_id="lead_handoff_daily"), "logical_date": RUN_DATE,
            "dag_run": SimpleNamespace(conf={}, logical_date=RUN_DATE, run_after=None,
                                       data_interval_start=RUN_DATE)}


@pytest.fixture
def warehouse(tmp_path: Path, db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch):
    """leadflow.yaml with one lead source (warn above 5%, fail above 50%) found as Airflow finds it."""
    doc = {"paths": {"data_dir": str(tmp_path / "data"), "reports_dir": str(tmp_path / "reports")},
           "sources": [{"name": "web", "owner": "ops", "kind": "inbound_leads",
                        "connector": {"type": "file", "path": str(tmp_path / "landing")},
                        "mapping": {"Email": "email", "Id": "source_record_id"},
                        "quality": {"warn_share": 0.05, "fail_share": 0.5}}]}
    cfg = write_config(tmp_path / "leadflow.yaml", doc)
    monkeypatch.setenv("LEADFLOW_CONFIG", str(cfg))
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADFLOW_DATA_DOCS", "0")       # GX docs are covered in test_quality.py
    return SimpleNamespace(config=cfg, url=db_url, engine=engine)


def _stage_leads(engine: sa.Engine, n: int, broken: int) -> None:
    rows = [good_row("inbound_leads", i) for i in range(n)]
    for r in rows[:broken]:
        r["email"] = f"person{r['source_record_id']}-at-example.com"    # fails email_syntax
    stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))


def test_above_fail_share_the_source_is_held_and_its_gate_task_fails(warehouse) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from leadflow.orchestration import alerts, runner
    _stage_leads(warehouse.engine, 10, broken=6)
    out = runner.run_task("quality", airflow_context(), keep=("held",))   # the DAG's quality task
    assert out["held"] == ["web"] and out["counts"]["quarantined"] == 6
    with warehouse.engine.connect() as c:
        run = c.execute(sa.select(pipeline_runs)).one()
    assert (run.run_id, run.task, run.status) == (RUN_ID, "quality", "warning")   # not failed
    assert run.message.startswith("quality gate: source 'web' (inbound_leads): 6 of 10 rows quarantined "
                                  "(60.0% > fail_share 50%); most failed expectation 'email_syntax' (6 rows)")
    assert "-at-example.com" not in run.message                # ids and counts, never values
    st = states(warehouse.engine, "inbound_leads")              # held: passing rows stay landed
    assert (st.get("quarantined"), st.get("passed", 0), st.get("landed")) == (6, 0, 4)

    with pytest.raises(AirflowFailException) as ei:             # quality_gate[web]
        runner.quality_gate("web")
    msg = str(ei.value)
    assert "\n" not in msg and "'web'" in msg and "leadflow quarantine list --source web" in msg
    assert ei.value.error_class == "QualityGateError"          # no retry: a retry cannot fix data
    assert ei.value.__cause__ is None and ei.value.__suppress_context__     # no stack trace of ours
    ctx = airflow_context() | {"exception": ei.value}
    ctx["ti"].task_id = "quality_gate"
    alert = alerts.alert_from_task_context(ctx)                 # what email/Slack receive
    assert "'web'" in alert.text() and "quality_gate" in alert.subject()


def _status(config: Path, url: str) -> str:
    env = {**os.environ, "LEADFLOW_DATABASE_URL": url, "COLUMNS": "250", "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "leadflow", "status", "--config", str(config)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_below_fail_share_the_run_goes_on_and_status_shows_the_counts(warehouse) -> None:
    from leadflow.orchestration import runner
    _stage_leads(warehouse.engine, 10, broken=1)               # 10% > warn 5%, < fail 50%
    out = runner.run_task("quality", airflow_context())
    assert out["counts"]["rows"] == 10 and out["counts"]["passed"] == 9 and out["counts"]["quarantined"] == 1
    text = _status(warehouse.config, warehouse.url)
    run_line = next(line for line in text.splitlines() if RUN_ID in line)
    cells = [c.strip() for c in run_line.replace("┃", "│").split("│") if c.strip()]
    # columns: run, date, steps, status, read, quarantined, ...
    assert cells[:6] == [RUN_ID, "2026-11-26", "1", "warning", "10", "1"]
    assert "open quarantine rows: 1" in text
    warning = next(line for line in text.splitlines() if line.startswith("warning"))
    assert f"{RUN_ID} quality: source 'web' (inbound_leads): 1 of 10 rows quarantined" in warning
    assert "warn_share 5%" in warning and "email_syntax" in warning



@pytest.mark.slow
def test_one_bad_source_does_not_stop_the_others(tmp_path: Path, db_url: str, monkeypatch) -> None:
    """Two lead sources, one over its fail threshold. The daily run
    hands off the good source's leads; nothing of the bad one is loaded or handed off; the
    run summary, ``leadflow status`` and the gate task name the bad source."""
    import yaml

    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.store import db
    from leadflow.store.schema import handoffs, people
    from tests.conftest import demo_config

    monkeypatch.setenv("LEADFLOW_DATA_DOCS", "0")
    path = demo_config(tmp_path, db_url, monkeypatch)
    doc = yaml.safe_load(path.read_text())
    web = next(s for s in doc["sources"] if s["name"] == "web_leads")
    doc["sources"].append({**web, "name": "partner", "connector": {"type": "file", "path": str(tmp_path / "partner")},
                           "quality": {"warn_share": 0.05, "fail_share": 0.3}})
    write_config(path, doc)
    day = RUN_DATE.date()
    demo.generate(tmp_path / "data", leads=400, seed=5, days=2, end_date=day)
    eng = db.engine(db_url)
    ctx = RunContext(cfg.load(path), eng, day, make_run_id("test", day), "test")
    pipeline.run_steps(ctx, [("ingest", pipeline.step_ingest)])
    rows = [good_row("inbound_leads", i) | {"email": f"p{i}@partner.example", "company_size": 5000,
                                            "job_title": "CTO", "country": "GB"} for i in range(10)]
    for r in rows[:5]:
        r["email"] = f"p{r['source_record_id']}(at)partner.example"     # 50% > 30%: held
    stage(eng, "inbound_leads", "partner", pd.DataFrame(rows).drop(columns=["source"]),
          loaded_at=datetime(2026, 11, 26, 8, 0))
    res = pipeline.run_steps(ctx, [s for s in pipeline.DAILY_STEPS if s[0] != "ingest"])

    q = res["quality"]
    assert q["held"] == ["partner"] and "web_leads" not in q["held"]
    assert any("'partner'" in w and "held back" in w for w in q["warnings"])
    with eng.connect() as c:
        n_handoffs = c.execute(sa.select(sa.func.count()).select_from(handoffs)).scalar_one()
        partner_people = c.execute(sa.select(sa.func.count()).select_from(people)
                                   .where(people.c.email_norm.like("%partner.example"))).scalar_one()
    assert n_handoffs > 0                                      # the good source's leads flowed on
    assert partner_people == 0                                 # nothing of the held source loaded
    st = states(eng, "inbound_leads")
    assert st.get("landed") == 5 and st.get("quarantined", 0) >= 5   # held rows kept, not lost
    text = _status(path, db_url)
    assert "quality gate: source 'partner'" in text
    from leadflow.orchestration import summary  # the run summary shows it too
    html = summary.write(eng, ctx.run_id, ctx.settings.reports_dir).read_text()
    assert "partner" in html and "held back" in html and ">warning<" in html


def test_invalid_suite_fails_the_quality_task_at_once_with_one_line(warehouse, tmp_path, monkeypatch) -> None:
    """An expectation GX rejects is a config error (no retry), not an internal error."""
    from airflow.sdk.exceptions import AirflowFailException

    from leadflow.orchestration import runner
    from tests.test_quality_engine import suite_copy
    path = suite_copy(tmp_path, monkeypatch, [{"type": "expect_column_values_to_match_strftime_format",
                                               "kwargs": {"column": "created_at"}}])
    _stage_leads(warehouse.engine, 3, broken=0)
    with pytest.raises(AirflowFailException) as ei:
        runner.run_task("quality", airflow_context())
    msg = str(ei.value)
    assert ei.value.error_class == "ConfigError" and "\n" not in msg
    assert str(path) in msg and "expect_column_values_to_match_strftime_format" in msg
    assert "strftime_format" in msg.split(":", 2)[-1]
    assert states(warehouse.engine, "inbound_leads").get("landed") == 3      # nothing moved
