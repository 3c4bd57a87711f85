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
