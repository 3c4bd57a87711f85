"""Run monitoring: every step writes its counts, duration and status to ``pipeline_runs``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.errors import LeadflowError
from leadflow.scrub import scrub
from leadflow.store.schema import pipeline_runs

log = logging.getLogger("leadflow")


def _jsonable(counts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in counts.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (list, tuple)):
            out[k] = [(_jsonable(x) if isinstance(x, dict) else (x if isinstance(x, (int, float, str, bool)) or x is None else str(x))) for x in v]
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


@contextmanager
def step(ctx: RunContext, task: str) -> Iterator[dict[str, Any]]:
    """Record a step: yields a dict the step fills with counts; status follows the outcome.

    Durations are measured (they are observations, not data), but the stored timestamps
    are the run's logical time plus the measured duration, so nothing depends on now().
    """
    counts: dict[str, Any] = {}
    t0 = time.perf_counter()
    status, message = "success", None
    try:
        yield counts
        if counts.get("warnings"):
            status = "warning"
            message = "; ".join(str(w) for w in counts["warnings"])[:2000]
    except LeadflowError as e:
        status, message = "failed", str(e)[:2000]
        raise
    except Exception as e:  # recorded, then re-raised for the caller to report
        status, message = "failed", f"{type(e).__name__}: {scrub(e, 500)}"
        raise
    finally:
        secs = time.perf_counter() - t0
        counts["seconds"] = round(secs, 3)
        log.info("%s %s %s %s", ctx.run_id, task, status, _jsonable(counts))
        with ctx.engine.begin() as conn:
            conn.execute(pipeline_runs.insert().values(
                run_id=ctx.run_id, job=ctx.job, task=task, run_date=ctx.run_date, status=status,
                started_at=ctx.day_start, finished_at=ctx.day_start + timedelta(seconds=secs),
                counts=_jsonable(counts), message=message))


def run_step(ctx: RunContext, task: str, fn: Callable[[RunContext], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn(ctx)`` as a recorded step and return its counts."""
    with step(ctx, task) as counts:
        counts.update(fn(ctx) or {})
    return counts


def last_runs(engine: sa.Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent step records, newest first."""
    q = sa.select(pipeline_runs).order_by(pipeline_runs.c.id.desc()).limit(limit)
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]


