"""The daily pipeline: one function per step, shared by the CLI and the Airflow DAGs.

Order (one direction of data flow):
  ingest -> quality -> load (clean + identity) -> score -> qualify/route/queue -> deliver
  -> feedback -> report

Each step function takes a RunContext and returns a dict of counts; ``run_daily`` runs them in
order and records each in ``pipeline_runs``. Steps are idempotent per run date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadflow.context import RunContext
from leadflow.faults import checkpoint
from leadflow.monitor import run_step


def step_ingest(ctx: RunContext) -> dict[str, Any]:
    from leadflow import ingest
    results = ingest.land(ctx)
    return ingest.summarise(results)


def step_quality(ctx: RunContext) -> dict[str, Any]:
    from leadflow import quality
    return quality.validate_all(ctx)


def step_data_docs(ctx: RunContext) -> dict[str, Any]:
    """Render the run's GX results into Data Docs (a task of its own: never delays the handoff)."""
    from leadflow.quality import docs
    if not docs.has_results(ctx.settings.reports_dir, ctx.run_id):
        return {"built": 0}
    return {"built": 1, "data_docs": str(docs.build(ctx.settings.reports_dir, ctx.run_id))}


def step_load(ctx: RunContext) -> dict[str, Any]:
    from leadflow import campaigns, identity
    out: dict[str, Any] = {"spend": campaigns.load_spend(ctx)}
    out["leads"] = identity.load_leads(ctx)
    checkpoint("load:leads")
    out["touches"] = identity.load_touches(ctx)
    return out


def step_score(ctx: RunContext) -> dict[str, Any]:
    from leadflow import score
    return score.score_people(ctx)


def step_queue(ctx: RunContext) -> dict[str, Any]:
    from leadflow import handoff
    return handoff.queue(ctx)


def step_deliver(ctx: RunContext) -> dict[str, Any]:
    from leadflow import handoff
    return handoff.deliver(ctx)


def step_push_crm(ctx: RunContext) -> dict[str, Any]:
    from leadflow import crm
    return crm.push(ctx)


def step_feedback(ctx: RunContext) -> dict[str, Any]:
    from leadflow import feedback
    return feedback.apply_outcomes(ctx)


def step_report(ctx: RunContext) -> dict[str, Any]:
    from leadflow import report
    return report.build(ctx)


DAILY_STEPS: list[tuple[str, Callable[[RunContext], dict[str, Any]]]] = [
    ("ingest", step_ingest),
    ("quality", step_quality),
    ("load", step_load),
    ("score", step_score),
    ("queue", step_queue),
    ("deliver", step_deliver),
    ("push_crm", step_push_crm),     # no-op without crm.destinations
    ("data_docs", step_data_docs),
]

FEEDBACK_STEPS: list[tuple[str, Callable[[RunContext], dict[str, Any]]]] = [
    ("feedback", step_feedback),
    ("report", step_report),
]


def run_steps(ctx: RunContext, steps: list[tuple[str, Callable[[RunContext], dict[str, Any]]]]
              ) -> dict[str, dict[str, Any]]:
    """Run steps in order, holding the warehouse's run lock throughout: runs for different
    dates (or the same date twice) never interleave their steps; the later one waits."""
    from leadflow.store.locks import run_lock
    with run_lock(ctx.engine, ctx.run_id):
        return {name: run_step(ctx, name, fn) for name, fn in steps}


def run_daily(ctx: RunContext) -> dict[str, dict[str, Any]]:
    """Run the whole daily handoff for ``ctx.run_date``."""
    return run_steps(ctx, DAILY_STEPS)


# Steps a backfill replays by default: the daily run's and the feedback's data steps. Lead lists,
# e-mails, CRM pushes, Data Docs and reports of past days are left out (no rep wants a 2024 list
# today); name them with ``steps`` to replay them too.
BACKFILL_STEPS: tuple[str, ...] = ("ingest", "quality", "load", "score", "queue", "feedback")


def steps_named(names: list[str] | tuple[str, ...] | None) -> list[tuple[str, Callable[[RunContext], dict[str, Any]]]]:
    """The daily and feedback steps with these names, in pipeline order (None: all)."""
    from leadflow.errors import LeadflowError
    every = DAILY_STEPS + FEEDBACK_STEPS
    if names is None:
        return every
    bad = [n for n in names if n not in {n for n, _ in every}]
    if bad:
        raise LeadflowError(f"--steps: unknown step(s) {', '.join(bad)}; known: {', '.join(n for n, _ in every)}")
    return [(n, f) for n, f in every if n in names]


def backfill(settings: Any, engine: Any, start: Any, end: Any, steps: list[str] | tuple[str, ...] | None = None,
             job: str = "backfill", on_day: Callable[[Any, dict[str, dict[str, Any]]], None] | None = None,
             every_day: bool = False) -> list[tuple[Any, dict[str, dict[str, Any]]]]:
    """Replay ``start``..``end`` (inclusive) day by day, in order, with the daily run's own step
    functions: each day's run lands only files dated up to that day (``dated_names``), so the
    deliveries are taken in the order they were made. Days with no dated delivery are skipped
    (nothing would change) unless ``every_day`` or a source cannot be listed ahead
    (``delivery_days``). Returns (day, step results) per day replayed."""
    from datetime import timedelta

    from leadflow.context import make_run_id
    from leadflow.errors import LeadflowError
    if end < start:
        raise LeadflowError(f"backfill: --to {end} is before --from {start}")
    chosen = steps_named(tuple(steps) if steps is not None else BACKFILL_STEPS)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    if not every_day:
        dated = delivery_days(settings, start, end)
        if dated is not None:
            days = [d for d in days if d in dated]
    out = []
    for day in days:
        ctx = RunContext(settings, engine, day, make_run_id(job, day), job)
        res = run_steps(ctx, chosen)
        out.append((day, res))
        if on_day is not None:
            on_day(day, res)
    return out


def delivery_days(settings: Any, start: Any, end: Any) -> set[Any] | None:
    """The days in ``start``..``end`` that have something to replay: the dates in the names of
    the files waiting in the enabled file sources (``dated_names``), plus ``start`` for undated
    files and files dated earlier. None when a source's deliveries cannot be listed ahead (SQL,
    HTTP, ``dated_names: false``): then every day is replayed."""
    from leadflow.config import FileConnector
    from leadflow.ingest import files
    days: set[Any] = set()
    for src in settings.sources:
        if not src.enabled:
            continue
        conn = src.connector
        if not isinstance(conn, FileConnector) or not conn.dated_names:
            return None
        for path in files.candidates(conn, settings.base_dir):
            d = files.name_date(path)
            if d is None or d < start:
                days.add(start)
            elif d <= end:
                days.add(d)
    return days
