"""Failure and deadline alerts by email (SMTP) and, optionally, a Slack webhook.

A message carries the DAG id, task id, run date, error class and leadflow's one-line message —
never PII or secrets (``leadflow.scrub`` is the second line of defence). Alerting never raises:
a broken mail server must not hide the original failure.

Only the standard library is imported at module level: Airflow imports this module when it
parses the DAGs (deadline callbacks are referenced by import path).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadflow.orchestration.dates import _get  # one reader of Airflow context fields
from leadflow.scrub import REDACTED, scrub  # noqa: F401 - re-exported for callers of alerts

log = logging.getLogger("leadflow.alerts")

@dataclass
class Alert:
    kind: str            # "failure" | "deadline"
    dag_id: str
    task_id: str | None
    run_date: str | None
    error_class: str
    message: str
    airflow_run_id: str | None = None
    try_number: int | None = None

    def subject(self) -> str:
        what = "FAILED" if self.kind == "failure" else "LATE"
        where = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        return scrub(f"[leadflow] {what} {where} run {self.run_date or '?'}", 200)

    def lines(self) -> list[str]:
        rows = [("dag", self.dag_id), ("task", self.task_id), ("run date", self.run_date),
                ("airflow run", self.airflow_run_id), ("try", self.try_number),
                ("error", self.error_class), ("message", self.message)]
        return [f"{k}: {scrub(v)}" for k, v in rows if v not in (None, "")]

    def text(self) -> str:
        return self.subject() + "\n\n" + "\n".join(self.lines()) + "\n"


# --------------------------------------------------------------------------- transports
def send_email(smtp: Any, recipients: list[str], subject: str, body: str) -> None:
    """One plain-text alert email through the shared transport (``leadflow.notify``)."""
    from leadflow import notify
    notify.send_text(smtp, recipients, subject, body)


def send_slack(url: str, text: str, timeout: float = 10.0) -> None:
    """Post ``text`` to a Slack incoming webhook (``leadflow.notify``)."""
    from leadflow import notify
    notify.send_slack(url, text, timeout)


def _load_settings() -> Any:
    from leadflow import config as cfg
    from leadflow.orchestration.paths import config_path
    return cfg.load(config_path())


def notify(alert: Alert, settings: Any | None = None) -> dict[str, str]:
    """Send ``alert`` on every configured channel; returns channel -> "sent" | "skipped" | error class."""
    out: dict[str, str] = {}
    if settings is None:
        try:
            settings = _load_settings()
        except Exception as e:  # noqa: BLE001 - cannot know the recipients; log and carry on
            log.warning("alert not sent: cannot load leadflow config (%s)", type(e).__name__)
            return {"email": f"skipped: {type(e).__name__}", "slack": "skipped"}
    subject, body = alert.subject(), alert.text()
    if settings.alerts.email_to:
        try:
            send_email(settings.delivery.smtp, list(settings.alerts.email_to), subject, body)
            out["email"] = "sent"
        except Exception as e:  # noqa: BLE001 - never mask the failure being reported
            cause = e.__context__ if e.__context__ is not None else e   # the transport's own error
            out["email"] = type(cause).__name__
            log.warning("alert email not sent: %s", type(cause).__name__)
    else:
        out["email"] = "skipped"
    env = settings.alerts.slack_webhook_env
    url = os.environ.get(env) if env else None
    if url:
        try:
            send_slack(url, body)
            out["slack"] = "sent"
        except Exception as e:  # noqa: BLE001
            out["slack"] = type(e).__name__
            log.warning("alert to Slack not sent: %s", type(e).__name__)
    else:
        out["slack"] = "skipped"
    log.info("alert %s %s: %s", alert.kind, alert.subject(), out)
    return out


# --------------------------------------------------------------------------- Airflow callbacks
def _run_date(context: Mapping[str, Any]) -> str | None:
    from leadflow.orchestration.dates import run_date_for
    try:
        return run_date_for(context).isoformat()
    except Exception:  # noqa: BLE001 - an alert without a date beats no alert
        return None


def alert_from_task_context(context: Mapping[str, Any]) -> Alert:
    """Build the failure alert from an Airflow task context (only ids, dates and our message)."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    dag = context.get("dag")
    dag_id = _get(ti, "dag_id") or _get(dag, "dag_id") or "?"
    error_class = getattr(exc, "error_class", None) or (type(exc).__name__ if exc else "unknown")
    message = str(exc) if exc is not None else (context.get("reason") or "task failed")
    return Alert(kind="failure", dag_id=dag_id, task_id=_get(ti, "task_id"),
                 run_date=_run_date(context), error_class=error_class, message=message,
                 airflow_run_id=_get(ti, "run_id") or context.get("run_id"),
                 try_number=_get(ti, "try_number"))


def task_failure_callback(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` for every leadflow task: email/Slack the one-line failure."""
    try:
        notify(alert_from_task_context(context))
    except Exception as e:  # noqa: BLE001 - callbacks must not raise
        log.warning("failure alert not sent: %s", type(e).__name__)


def deadline_missed(context: Mapping[str, Any] | None = None, dag_id: str | None = None,
                    within: str | None = None, **_: Any) -> None:
    """Deadline-alert callback (Airflow 3's replacement for SLAs).

    Airflow calls it with ``context={"dag_run": {...}, "deadline": {...}}``. It records the breach
    in ``pipeline_runs`` (task ``deadline``, status ``breached``) so ``leadflow status`` and the
    run summary show it, then alerts.
    """
    context = context or {}
    dag_run = context.get("dag_run") or {}
    dag_id = dag_id or _get(dag_run, "dag_id") or "?"
    deadline = context.get("deadline") or {}
    run_date = _run_date({"dag_run": dag_run})
    msg = f"run not finished within {within or 'its deadline'}"
    if _get(deadline, "deadline_time"):
        msg += f" (deadline {_get(deadline, 'deadline_time')})"
    alert = Alert(kind="deadline", dag_id=dag_id, task_id=None, run_date=run_date,
                  error_class="DeadlineMissed", message=msg,
                  airflow_run_id=_get(dag_run, "run_id"))
    try:
        record_breach(alert)
    except Exception as e:  # noqa: BLE001
        log.warning("deadline breach not recorded: %s", type(e).__name__)
    notify(alert)


def record_breach(alert: Alert) -> None:
    """Write a deadline breach to ``pipeline_runs`` in the warehouse."""
    from datetime import date

    from leadflow.context import make_run_id
    from leadflow.store import db
    from leadflow.store.locks import utcnow
    from leadflow.store.schema import pipeline_runs

    settings = _load_settings()
    d = date.fromisoformat(alert.run_date) if alert.run_date else None
    eng = db.engine(settings.database_url)
    start = utcnow()          # when the breach was noticed (wall clock); run_date is the logical day
    with eng.begin() as conn:
        conn.execute(pipeline_runs.insert().values(
            run_id=make_run_id(alert.dag_id, d) if d else f"{alert.dag_id}:?",
            job=alert.dag_id, task="deadline", run_date=d, status="breached",
            started_at=start, finished_at=None, counts={}, message=scrub(alert.message, 2000)))
