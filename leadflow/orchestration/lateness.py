"""Late-run alerts of our own, read from the run records in the warehouse.

Why not Airflow's ``DeadlineAlert(reference=DAGRUN_QUEUED_AT)``: in Airflow 3.3 clearing a run
recalculates that deadline with the stored interval (a dict) where a timedelta is expected, so
"Clear" fails with HTTP 500; and a failed run keeps its deadline, which later fires a "late"
alert for a run nobody is waiting for. Here a run *attempt* is open from its first recorded step
(after the run's last failure, so a Clear starts a new attempt with a fresh clock) until its final
step succeeds; a failed or interrupted attempt is closed. An open attempt older than its limit is
late: one ``breached`` row per attempt in ``pipeline_runs``, one alert.

The ``run_deadlines`` DAG checks every 15 minutes. It runs on the same workers as the runs it
watches: if no worker can start a task at all, neither can it (the scheduler's own health check
and ``leadflow status`` cover that case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadflow.orchestration.ordering import final_done
from leadflow.store.schema import pipeline_runs

#: job -> (limit from the attempt's first step, the step whose success ends a run)
LIMITS: dict[str, tuple[timedelta, str]] = {
    "lead_handoff_daily": (timedelta(hours=4), "deliver"),
    "conversion_feedback": (timedelta(hours=3), "report"),
    "model_retrain": (timedelta(hours=6), "train"),
}
CLOSED = ("failed", "interrupted")
DONE = ("success", "warning")


@dataclass
class LateRun:
    job: str
    run_id: str
    run_date: date | None
    started_at: datetime
    within: timedelta


def open_attempts(engine: sa.Engine, job: str, final: str, since: datetime) -> list[dict[str, Any]]:
    """Runs of ``job`` whose current attempt is still open: started, nothing failed since, and
    ``final`` not yet successful. Each with the attempt's first ``started_at``."""
    p = pipeline_runs
    with engine.connect() as c:
        rows = c.execute(sa.select(p.c.id, p.c.run_id, p.c.run_date, p.c.task, p.c.status,
                                   p.c.started_at)
                         .where(p.c.job == job, p.c.started_at >= since)
                         .order_by(p.c.run_id, p.c.id)).all()
    out: list[dict[str, Any]] = []
    by_run: dict[str, list[Any]] = {}
    for r in rows:
        by_run.setdefault(r.run_id, []).append(r)
    for run_id, rs in by_run.items():
        # the Data Docs task runs whatever happened before it (trigger rule all_done): it starts
        # no attempt, or a run that failed early would look as if it were still going
        steps = [r for r in rs if r.task not in ("deadline", "data_docs")]
        last_closed = max((r.id for r in steps if r.status in CLOSED), default=0)
        attempt = [r for r in steps if r.id > last_closed]
        if not attempt:
            continue                                  # failed (or interrupted): nobody waits for it
        if final_done({r.task: r.status for r in attempt}, final):
            continue                                  # finished
        breached = any(r.task == "deadline" and r.id > attempt[0].id for r in rs)
        out.append({"run_id": run_id, "run_date": attempt[0].run_date,
                    "started_at": min(r.started_at for r in attempt), "breached": breached})
    return out


def late_runs(engine: sa.Engine, now: datetime, limits: dict[str, tuple[timedelta, str]] | None = None
              ) -> list[LateRun]:
    """Open attempts past their limit that have not been alerted yet."""
    out = []
    for job, (within, final) in (limits or LIMITS).items():
        for a in open_attempts(engine, job, final, since=now - within - timedelta(days=7)):
            if not a["breached"] and now - a["started_at"] > within:
                out.append(LateRun(job, a["run_id"], a["run_date"], a["started_at"], within))
    return out


def check(engine: sa.Engine, now: datetime | None = None,
          limits: dict[str, tuple[timedelta, str]] | None = None, notify: bool = True) -> list[LateRun]:
    """Record and alert each newly late run once; returns them."""
    from leadflow.orchestration import alerts
    from leadflow.store.locks import utcnow

    now = now or utcnow()
    late = late_runs(engine, now, limits)
    for lr in late:
        msg = (f"run not finished within {_human(lr.within)} of its first step "
               f"(started {lr.started_at:%Y-%m-%d %H:%M} UTC)")
        alert = alerts.Alert(kind="deadline", dag_id=lr.job, task_id=None,
                             run_date=lr.run_date.isoformat() if lr.run_date else None,
                             error_class="DeadlineMissed", message=msg,
                             next_command=f"leadflow status   (then the run's log in Airflow: "
                                          f"{alerts.base_url()}/dags/{lr.job})")
        with engine.begin() as conn:
            conn.execute(pipeline_runs.insert().values(
                run_id=lr.run_id, job=lr.job, task="deadline", run_date=lr.run_date,
                status="breached", started_at=now, finished_at=None, counts={}, message=msg))
        if notify:
            alerts.notify(alert)
    return late


def _human(td: timedelta) -> str:
    mins = int(td.total_seconds() // 60)
    return f"{mins // 60} h {mins % 60} min" if mins >= 60 else f"{mins} min"
