"""Run monitoring: every step is recorded in ``pipeline_runs`` when it starts and when it ends.

A step's row is written as ``running`` before any work, under the warehouse's run lock
(``store/locks.py``), and completed with its status, counts and message afterwards. A process
killed mid-step leaves ``running`` behind; since live steps always hold the lock, a ``running``
row with no live holder is an interrupted step (``leadflow status`` shows it so, and the next
step to start records it as ``interrupted``).

Times: ``run_date`` is the logical day the data belongs to (steps derive their clock from it,
never from now()); ``started_at``/``finished_at`` are the real wall-clock times (UTC), which are
observations about the process, not data, so a backfill is told apart from a live run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.errors import LeadflowError
from leadflow.faults import checkpoint
from leadflow.scrub import scrub
from leadflow.store import db, locks
from leadflow.store.schema import pipeline_runs

log = logging.getLogger("leadflow")

#: Step rows of this process that are still open (never mistaken for a dead run's).
_OPEN: set[int] = set()
INTERRUPTED = "interrupted: its process ended without recording an outcome (killed or lost)"


def _jsonable(counts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in counts.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (list, tuple)):
            out[k] = [(_jsonable(x) if isinstance(x, dict)
                       else (x if isinstance(x, (int, float, str, bool)) or x is None else str(x))) for x in v]
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


def shares_lock(task: str) -> bool:
    """Landing a source only adds its own batches; a score partition only upserts its own
    people's scores and a delivery partition only its own owners' lists and handoffs (both read
    people, touches and the queue, which only exclusive steps write). So ingest tasks (one per
    source in Airflow) and partitions (``score:k/n``, ``deliver:k/n``) share the run lock; every
    other step has the warehouse to itself."""
    return task == "ingest" or task.startswith(("ingest:", "score:", "deliver:"))


def _start(ctx: RunContext, task: str, close_stale: bool) -> int:
    """Open our row; with the lock to ourselves, first close what dead runs left ``running``
    (every live step holds the lock, so no other live step can exist)."""
    p = pipeline_runs
    with ctx.engine.begin() as conn:
        if close_stale:
            stale = sa.update(p).where(p.c.status == "running")
            if _OPEN:
                stale = stale.where(p.c.id.notin_(sorted(_OPEN)))
            conn.execute(stale.values(status="interrupted", message=INTERRUPTED))
        return int(conn.execute(p.insert().values(
            run_id=ctx.run_id, job=ctx.job, task=task, run_date=ctx.run_date, status="running",
            started_at=locks.utcnow(), counts={}).returning(p.c.id)).scalar_one())


@contextmanager
def step(ctx: RunContext, task: str) -> Iterator[dict[str, Any]]:
    """Record a step: yields a dict the step fills with counts; status follows the outcome.

    Holds the run lock for the step. Infrastructure failures (disk full, lost warehouse) leave
    as one-line ``InfrastructureError`` naming the warehouse or file.
    """
    counts: dict[str, Any] = {}
    shared = shares_lock(task)
    with locks.run_lock(ctx.engine, ctx.run_id, task, shared=shared):
        row_id = _start(ctx, task, close_stale=not shared)
        _OPEN.add(row_id)
        t0 = time.perf_counter()
        status, message = "success", None
        failing = False
        try:
            checkpoint(f"{task}:start")
            yield counts
            checkpoint(f"{task}:end")
            if counts.get("warnings"):
                status = "warning"
                message = "; ".join(str(w) for w in counts["warnings"])[:2000]
        except LeadflowError as e:
            failing = True
            status, message = "failed", str(e)[:2000]
            counts.update(getattr(e, "counts", None) or {})   # what the step did before failing
            raise
        except Exception as e:  # recorded, then re-raised for the caller to report
            failing = True
            infra = db.infra_error(e, ctx.engine)
            if infra is not None:
                status, message = "failed", str(infra)[:2000]
                raise infra from None
            status, message = "failed", f"{type(e).__name__}: {scrub(e, 500)}"
            raise
        finally:
            _OPEN.discard(row_id)
            counts["seconds"] = round(time.perf_counter() - t0, 3)
            log.info("%s %s %s %s", ctx.run_id, task, status, _jsonable(counts))
            try:
                with ctx.engine.begin() as conn:
                    conn.execute(sa.update(pipeline_runs).where(pipeline_runs.c.id == row_id).values(
                        status=status, finished_at=locks.utcnow(), counts=_jsonable(counts),
                        message=message))
            except Exception as e:  # the warehouse went away: say so once, keep the first error
                infra = db.infra_error(e, ctx.engine)
                log.warning("%s %s: outcome not recorded (%s)", ctx.run_id, task,
                            infra or type(e).__name__)
                if not failing:
                    if infra is not None:
                        raise infra from None
                    raise


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
