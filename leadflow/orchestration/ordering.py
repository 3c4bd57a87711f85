"""Days run in order: the daily handoff for day D waits until day D−1 has succeeded.

Airflow starts queued runs by ``run_after``, not by the day they process: a manual run for an
earlier day (``conf.run_date``) can be queued behind the scheduled run of a later day that
unpausing creates, and with ``max_active_runs=1`` the later day would go first. Handing off
day D before D−1 would route and suppress against a queue that lacks D−1's leads, so the DAG's
first task asks the warehouse (``pipeline_runs``, the same records ``leadflow status`` reads):

* no earlier day of this job in the warehouse → first day, go;
* day D−1's final step succeeded (its latest record) → go;
* otherwise a scheduled or manual run fails at once (no retry: with one active run a retry
  would only block D−1) with the command that fixes it; an asset-triggered run is skipped
  (the scheduled run processes that day later).

A deliberate gap (a day that will never run) is passed with ``conf {"allow_gap": true}``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from leadflow.store.schema import pipeline_runs

DONE = ("success", "warning")


def previous_day_problem(engine: sa.Engine, job: str, run_date: date, final: str = "deliver"
                         ) -> str | None:
    """Why day ``run_date`` of ``job`` must not run yet, or None when it may."""
    from leadflow.context import make_run_id

    p = pipeline_runs
    prev = run_date - timedelta(days=1)
    with engine.connect() as c:
        earlier = c.execute(sa.select(p.c.id).where(p.c.job == job, p.c.run_date < run_date,
                                                    p.c.task != "deadline").limit(1)).first()
        if earlier is None:
            return None
        rows = c.execute(sa.select(p.c.task, p.c.status)
                         .where(p.c.run_id == make_run_id(job, prev), p.c.task != "deadline")
                         .order_by(p.c.id)).all()
    latest = {r.task: r.status for r in rows}          # later records win: the last attempt
    done = final_done(latest, final)
    if done and not any(s not in DONE for s in latest.values()):
        return None
    state = ("has not run" if not latest else
             "failed" if "failed" in latest.values() else
             "is still running or was interrupted" if not done else "failed")
    return (f"day {prev} of {job} {state}: day {run_date} waits for it. Run (or Clear) {prev} "
            f"first, then Clear this run; to skip a day on purpose trigger with "
            f'conf {{"run_date": "{run_date}", "allow_gap": true}}')


def final_done(statuses: dict[str, str], final: str) -> bool:
    """Step ``final`` succeeded: the step itself, or each of its ``n`` partitions
    (``final:k/n``, k = 0..n-1) of one partition count."""
    if statuses.get(final) in DONE:
        return True
    counts = {t.rsplit("/", 1)[1] for t in statuses if t.startswith(final + ":") and "/" in t}
    return any(n.isdigit() and int(n) > 0
               and all(statuses.get(f"{final}:{k}/{n}") in DONE for k in range(int(n)))
               for n in counts)


def allow_gap(context: Any) -> bool:
    from leadflow.orchestration.dates import _get
    conf = _get(context.get("dag_run"), "conf") or {}
    return bool(isinstance(conf, dict) and conf.get("allow_gap"))
