"""Speed to lead: the intraday path for hand-raisers (``speed_to_lead:`` in leadflow.yaml).

``run(ctx)`` lands the intraday sources' new deliveries and takes only their records through the
daily stage functions — validate → resolve → score → qualify → route → queue → notify — under
the warehouse's run lock, with the prospect's request time as the SLA start. The unique keys are
the daily run's (``handoffs (person_id, cycle)``, the notification outbox's (handoff, channel)),
so the daily run later finds these people already queued and an event, a sweep, a retry or the
daily run overlapping never hands anyone off or notifies anyone twice.

The work is defined by the data, not by the event that woke the run: every run re-reads the
intraday sources' records of the last day, so a sweep catches whatever a lost event missed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.context import RunContext, open_context
from leadflow.errors import ConfigError

log = logging.getLogger("leadflow.intraday")

JOB = "speed_to_lead"
#: How far back each run looks for intraday records not yet queued and notified.
LOOKBACK = timedelta(days=1)


@dataclass
class IntradayContext(RunContext):
    """A run context whose logical time is the wall clock of the run (not the end of its day):
    touches up to now count, and handoffs and SLA clocks carry real times."""

    at: datetime | None = None

    @property
    def as_of(self) -> datetime:
        assert self.at is not None
        return self.at


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def context(config_path: str | None = None, at: datetime | None = None) -> IntradayContext:
    """An intraday context at ``at`` (default: now, naive UTC); run id ``speed_to_lead:<time>``."""
    base = open_context(config_path, job=JOB)
    return at_time(IntradayContext(base.settings, base.engine, base.run_date, base.run_id, JOB),
                   at or utcnow())


def at_time(ctx: IntradayContext, at: datetime) -> IntradayContext:
    """The same context with its clock (and so its run id) at ``at``."""
    return replace(ctx, run_date=at.date(), run_id=f"{JOB}:{at:%Y-%m-%dT%H:%M:%S}", at=at)


def intraday_sources(ctx: RunContext) -> list[str]:
    """The configured intraday sources (names checked against ``sources:``)."""
    s = ctx.settings
    known = {x.name for x in s.sources if x.enabled}
    bad = [n for n in s.speed_to_lead.sources if n not in known]
    if bad:
        raise ConfigError(f"{s.config_path}: speed_to_lead.sources: unknown or disabled source(s): "
                          f"{', '.join(bad)}")
    return list(s.speed_to_lead.sources)


def run(ctx: IntradayContext) -> dict[str, Any]:
    """One intraday pass (an event or the sweep): land, validate, load, score, queue, notify;
    recorded in ``pipeline_runs`` (job ``speed_to_lead``, task ``intraday``) under the run lock,
    like a daily step, so ``leadflow status`` shows it."""
    from leadflow.intraday import stages
    from leadflow.monitor import step

    t0 = time.monotonic()
    sources = intraday_sources(ctx)
    with step(ctx, "intraday") as counts:
        counts.update(stages.process(ctx, sources, t0))     # the step logs the counts
    return counts


def run_now(ctx: IntradayContext) -> dict[str, Any]:
    """A pass as the DAG runs it: the stage modules imported *before* waiting for the run lock
    (a pass started while another works loads them meanwhile), then the clock and run id read
    once the lock is held: passes are serialised, so each has its own run id and a pass that
    waited starts from the time it really began."""
    from leadflow.intraday import stages
    from leadflow.store.locks import run_lock

    stages.warm()
    with run_lock(ctx.engine, ctx.run_id, "intraday"):
        now = at_time(ctx, utcnow())
        return {"run_id": now.run_id, **run(now)}


def airflow_task() -> dict[str, Any]:
    """The ``speed_to_lead`` DAG's task: one pass; a LeadflowError fails the task with its one-line
    message (scrubbed; no stack trace of ours), retried only when the warehouse was unreachable."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from leadflow.errors import LeadflowError, StoreError
    from leadflow.scrub import scrub

    try:
        out = run_now(context())
    except LeadflowError as e:
        base = AirflowException if isinstance(e, StoreError) else AirflowFailException
        raise base(scrub(e, 2000)) from None
    # the pass's run id (as in pipeline_runs and leadflow status) beside its counts, in the XCom
    return {k: v for k, v in out.items() if isinstance(v, (int, float, str))}


__all__ = ["IntradayContext", "context", "at_time", "run", "run_now", "intraday_sources", "airflow_task", "JOB"]
