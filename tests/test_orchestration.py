"""leadflow.orchestration: run dates, the task runner, alerts (real local SMTP and HTTP servers),
the PII scrubber and the HTML run summary. Fast: no Airflow metadata database needed."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, date, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from leadflow.errors import InputError, QualityGateError, StoreError
from leadflow.orchestration import alerts, runner, summary
from leadflow.orchestration.dates import run_date_for
from leadflow.store.schema import pipeline_runs
from tests.conftest import write_config

PII_EMAIL = "jane.doe@example.com"
PII_PHONE = "+44 20 7946 0958"


# --------------------------------------------------------------------------- local servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        self.received.set()
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    ctrl = Controller(sink, hostname="127.0.0.1", port=port)
    ctrl.start()
    sink.port = port  # type: ignore[attr-defined]
    yield sink
    ctrl.stop()


@pytest.fixture
def slack_server():
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: Any) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/hook", posts
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def leadflow_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    """A minimal leadflow.yaml (alerts to a local SMTP port set later) on an initialised warehouse."""

    def _make(smtp_port: int = 1, slack_env: str | None = None) -> Path:
        doc = {"paths": {"data_dir": str(tmp_path / "data"), "reports_dir": str(tmp_path / "reports"),
                         "lists_dir": str(tmp_path / "reports" / "lists")},
               "delivery": {"smtp": {"host": "127.0.0.1", "port": smtp_port,
                                     "sender": "leadflow@localhost"}},
               "alerts": {"email_to": ["data-team@localhost"], "slack_webhook_env": slack_env}}
        p = write_config(tmp_path / "leadflow.yaml", doc)
        monkeypatch.setenv("LEADFLOW_CONFIG", str(p))
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
        return p

    return _make


def airflow_context(dag_id: str = "lead_handoff_daily", task_id: str = "quality",
                    logical: datetime | None = datetime(2026, 11, 26, tzinfo=UTC),
                    exception: BaseException | None = None, **extra: Any) -> dict[str, Any]:
    """The parts of an Airflow 3 task context leadflow reads."""
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id="scheduled__2026-11-26", try_number=1)
    ctx: dict[str, Any] = {"ti": ti, "dag": SimpleNamespace(dag_id=dag_id), "logical_date": logical,
                           "dag_run": SimpleNamespace(conf={}, logical_date=logical, run_after=None,
                                                      data_interval_start=logical)}
    if exception is not None:
        ctx["exception"] = exception
    ctx.update(extra)
    return ctx


# --------------------------------------------------------------------------- scrubber
@pytest.mark.parametrize("secret", [
    PII_EMAIL, "JOHN_SMITH+promo@mail.co.uk", PII_PHONE, "(555) 123-4567 ext", "0049 30 1234567",
    "+1-202-555-0143",
])
def test_scrub_removes_contact_details(secret: str) -> None:
    out = alerts.scrub(f"row 12 field x: value {secret} is invalid")
    core = secret.replace(" ext", "")
    assert core not in out and alerts.REDACTED in out
    assert out.startswith("row 12 field x: value")


@pytest.mark.parametrize("text,leak", [
    ("cannot reach postgresql+psycopg://etl:hunter2@db:5432/wh", "hunter2"),
    ("request failed: Authorization: Bearer abcdEFGH12345678xyz", "abcdEFGH12345678xyz"),
    ("token=s3cr3t-value rejected", "s3cr3t-value"),
    ("api_key: 'k-123456789'", "k-123456789"),
    ("posting to https://hooks.slack.com/services/T000/B000/XXXX failed", "T000/B000/XXXX"),
    ("first_name='Zoë' last_name=\"O'Neil\" failed", "Zoë"),
    ("name: Bartholomew is too long", "Bartholomew"),
])
def test_scrub_removes_secrets_and_pii_fields(text: str, leak: str) -> None:
    assert leak not in alerts.scrub(text)


def test_scrub_keeps_what_operators_need() -> None:
    msg = ("source web_forms, file leads_2026-11-26.csv: expectation email_syntax failed on 812 "
           "of 1200 rows (share 0.68 > 0.50) at 2026-11-26T05:00:00+00:00; run lead_handoff_daily:2026-11-26")
    assert alerts.scrub(msg) == msg


def test_scrub_is_one_line_and_bounded() -> None:
    out = alerts.scrub("line one\nline two\r\n\tthree " + "x" * 5000, limit=100)
    assert "\n" not in out and len(out) == 100


# --------------------------------------------------------------------------- run dates
def test_run_date_precedence() -> None:
    d = datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert run_date_for({"logical_date": d, "dag_run": SimpleNamespace(conf={})}) == date(2026, 11, 20)
    # conf wins: an operator re-running one day by hand
    assert run_date_for({"logical_date": d, "dag_run": SimpleNamespace(conf={"run_date": "2026-10-01"})}) \
        == date(2026, 10, 1)
    # asset-triggered runs in Airflow 3 have no logical date: the day they ran after
    run = SimpleNamespace(conf={}, logical_date=None, data_interval_start=None,
                          run_after=datetime(2026, 11, 22, 13, tzinfo=UTC))
    assert run_date_for({"logical_date": None, "dag_run": run}) == date(2026, 11, 22)
    # deadline callbacks carry the dag run as a JSON dict
    assert run_date_for({"dag_run": {"logical_date": "2026-11-23T05:00:00Z"}}) == date(2026, 11, 23)


def test_run_date_bad_conf_is_one_line() -> None:
    from leadflow.errors import ConfigError
    with pytest.raises(ConfigError, match="not an ISO date"):
        run_date_for({"dag_run": SimpleNamespace(conf={"run_date": "yesterday"})})


# --------------------------------------------------------------------------- task runner
def test_run_task_records_counts_and_returns_small_xcom(leadflow_env, engine, caplog) -> None:
    leadflow_env()
    caplog.set_level("INFO", logger="leadflow.orchestration")

    def step(ctx: Any) -> dict[str, Any]:
        assert ctx.run_date == date(2026, 11, 26) and ctx.job == "lead_handoff_daily"
        return {"rows": 10, "passed": 9, "quarantined": 1, "per_source": {"web": {"rows": 10}},
                "ids": list(range(1000))}

    out = runner.run_task("quality", airflow_context(), step)
    assert out["run_id"] == "lead_handoff_daily:2026-11-26" and out["run_date"] == "2026-11-26"
    assert out["counts"]["passed"] == 9 and out["counts"]["ids"] == 1000  # lists become lengths
    assert "passed': 9" in caplog.text and "run_date=2026-11-26" in caplog.text
    with engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert (row.task, row.status, row.job) == ("quality", "success", "lead_handoff_daily")


def test_quality_gate_becomes_one_line_task_failure_without_retry(leadflow_env, engine) -> None:
    leadflow_env()
    msg = "source web_forms: expectation email_syntax failed on 812 of 1200 rows (share 0.68 > 0.50)"

    def step(ctx: Any) -> dict[str, Any]:
        raise QualityGateError(msg)

    with pytest.raises(AirflowFailException) as ei:
        runner.run_task("quality", airflow_context(), step)
    assert str(ei.value) == msg and ei.value.error_class == "QualityGateError"
    assert ei.value.__cause__ is None and ei.value.__suppress_context__
    with engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert row.status == "failed" and row.message == msg


def test_unreachable_warehouse_is_retryable(leadflow_env, monkeypatch, tmp_path) -> None:
    leadflow_env()
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(AirflowException) as ei:
        runner.run_task("quality", airflow_context(), lambda ctx: {})
    assert not isinstance(ei.value, AirflowFailException)
    assert ei.value.error_class == "StoreError" and "not initialised" in str(ei.value)


def test_small_counts_keeps_numbers_only() -> None:
    out = runner.small_counts({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": [1, 2], "g": object()})
    assert out == {"a": 1, "b": {"c": 2}, "f": 2}


# --------------------------------------------------------------------------- alerts
def _text(msg: Any) -> str:
    return msg["Subject"] + "\n" + msg.get_payload(decode=True).decode()


def test_failing_task_email_arrives_without_pii(leadflow_env, smtp_server, engine, caplog) -> None:
    leadflow_env(smtp_port=smtp_server.port)
    leaky = QualityGateError(f"source web: row 7 email {PII_EMAIL} phone {PII_PHONE} failed email_syntax")
    try:
        runner.run_task("quality", airflow_context(), lambda ctx: (_ for _ in ()).throw(leaky))
    except AirflowFailException as e:
        assert PII_EMAIL not in str(e) and "failed email_syntax" in str(e)   # task log line too
        alerts.task_failure_callback(airflow_context(exception=e))
    assert PII_EMAIL not in caplog.text
    assert smtp_server.received.wait(10), "no alert email arrived"
    text = _text(smtp_server.messages[0])
    for needle in ("lead_handoff_daily", "quality", "2026-11-26", "QualityGateError", "failed email_syntax"):
        assert needle in text
    assert PII_EMAIL not in text and "7946" not in text
    assert smtp_server.messages[0]["To"] == "data-team@localhost"


def test_slack_webhook_gets_the_same_scrubbed_message(leadflow_env, smtp_server, slack_server,
                                                       monkeypatch) -> None:
    url, posts = slack_server
    monkeypatch.setenv("LEADFLOW_SLACK_URL", url)
    leadflow_env(smtp_port=smtp_server.port, slack_env="LEADFLOW_SLACK_URL")
    out = alerts.notify(alerts.alert_from_task_context(
        airflow_context(task_id="load", exception=InputError(f"bad row for {PII_EMAIL}"))))
    assert out == {"email": "sent", "slack": "sent"}
    assert len(posts) == 1 and "lead_handoff_daily.load" in posts[0]["text"]
    assert PII_EMAIL not in posts[0]["text"] and "InputError" in posts[0]["text"]


def test_alerting_never_raises_when_smtp_is_down(leadflow_env) -> None:
    leadflow_env(smtp_port=free_port())      # nothing listens there
    out = alerts.notify(alerts.alert_from_task_context(airflow_context(exception=StoreError("x"))))
    assert out["email"] in ("ConnectionRefusedError", "SMTPServerDisconnected", "OSError")
    alerts.task_failure_callback(airflow_context(exception=StoreError("x")))   # does not raise


def test_deadline_missed_records_breach_and_alerts(leadflow_env, smtp_server, engine) -> None:
    leadflow_env(smtp_port=smtp_server.port)
    ctx = {"dag_run": {"dag_id": "lead_handoff_daily", "run_id": "scheduled__2026-11-26",
                       "logical_date": "2026-11-26T05:00:00+00:00", "conf": {"note": PII_EMAIL}},
           "deadline": {"id": "x", "deadline_time": "2026-11-26T09:00:00+00:00"}}
    alerts.deadline_missed(context=ctx, dag_id="lead_handoff_daily", within="4 h 0 min")
    with engine.connect() as c:
        row = c.execute(sa.select(pipeline_runs)).one()
    assert (row.task, row.status, row.run_date) == ("deadline", "breached", date(2026, 11, 26))
    assert smtp_server.received.wait(10)
    text = _text(smtp_server.messages[0])
    assert "LATE lead_handoff_daily" in text and "4 h 0 min" in text and PII_EMAIL not in text


# --------------------------------------------------------------------------- run summary
def test_run_summary_html(leadflow_env, engine, tmp_path) -> None:
    leadflow_env()
    ctx = airflow_context()
    runner.run_task("quality", ctx, lambda c: {"rows": 5, "passed": 4, "quarantined": 1})
    with pytest.raises(AirflowFailException):
        runner.run_task("load", ctx, lambda c: (_ for _ in ()).throw(InputError(f"bad {PII_EMAIL}")))
    alerts.record_breach(alerts.Alert("deadline", "lead_handoff_daily", None, "2026-11-26",
                                      "DeadlineMissed", "run not finished within 4 h 0 min"))
    out = runner.write_summary(ctx)
    path = Path(out["summary"])
    assert path == tmp_path / "reports" / "runs" / "lead_handoff_daily_2026-11-26.html"
    html = path.read_text()
    assert "passed=4" in html and "quarantined=1" in html
    assert 'class="failed">failed' in html and "run not finished within 4 h 0 min" in html
    assert PII_EMAIL not in html
    data = summary.collect(engine, "lead_handoff_daily:2026-11-26")
    assert data["status"] == "failed" and [t["task"] for t in data["tasks"]] == ["quality", "load"]
    assert data["last_runs"][0]["run_id"] == "lead_handoff_daily:2026-11-26"
