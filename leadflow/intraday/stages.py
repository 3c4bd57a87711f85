"""The intraday pass, stage by stage, each a daily stage function applied to the new records only.

- land: ``ingest.land`` for the intraday sources (a batch is unique per content: nothing twice);
- validate: ``quality.validate_all`` restricted to those sources' landed batches;
- resolve: ``identity.load_leads`` / ``load_touches`` (they take what passed and is waiting);
- score: ``score.step.score_frame`` for the people of the intraday records only;
- qualify → route → queue: ``handoff.enqueue.queue`` restricted to those people;
- notify: ``intraday.alerts`` (outbox, working hours, email / Slack).
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow.intraday import LOOKBACK, IntradayContext
from leadflow.store import db
from leadflow.store.schema import ingest_batches, person_records, touches


def warm() -> None:
    """Import what a pass uses (Great Expectations is most of a pass's start-up): called before
    waiting for the run lock, so that time overlaps the pass in progress."""
    from leadflow import identity, ingest  # noqa: F401
    from leadflow.handoff import enqueue  # noqa: F401
    from leadflow.intraday import alerts  # noqa: F401
    from leadflow.quality import engine, run  # noqa: F401
    from leadflow.score import step  # noqa: F401

    engine.context()          # imports GX and builds its ephemeral context (cached per process)


def process(ctx: IntradayContext, sources: list[str], t0: float | None = None) -> dict[str, Any]:
    """``t0``: ``time.monotonic()`` when the context's clock was read (before any lock wait)."""
    from leadflow import identity, ingest
    from leadflow.handoff.enqueue import queue
    from leadflow.intraday import alerts
    from leadflow.quality import validate_all

    counts: dict[str, Any] = {}
    t0 = time.monotonic() if t0 is None else t0
    landed = ingest.summarise(ingest.land(ctx, sources)) if sources else {"batches": 0}
    counts["landed_batches"] = int(landed["batches"])
    # The logical time moves to the end of landing: a record written while the pass started up
    # is never "in the future" for validation, scoring or the queue.
    ctx.at = ctx.as_of + timedelta(seconds=math.ceil(time.monotonic() - t0))
    if sources:
        checked = validate_all(ctx, docs=False, sources=sources)
        counts["passed"], counts["quarantined"] = int(checked["passed"]), int(checked["quarantined"])
        counts["held"] = list(checked.get("held") or [])
        counts["leads"] = identity.load_leads(ctx)["rows"]
        counts["touches"] = identity.load_touches(ctx)["rows"]
    ids = recent_people(ctx, sources)
    counts["people"] = len(ids)
    counts["scored"] = score_people(ctx, ids)
    q = queue(ctx, ids) if ids else {}
    counts["handed_off"] = int(q.get("handed_off", 0))
    counts["suppressed"] = int(q.get("suppressed", 0))
    counts["already_queued"] = int(q.get("already_queued", 0))
    counts["notifications"] = alerts.enqueue(ctx)
    counts.update(alerts.send_due(ctx))
    return counts


def recent_people(ctx: IntradayContext, sources: list[str]) -> list[int]:
    """People of the intraday sources' records landed in the last ``LOOKBACK``: their new lead
    records, and their touches of ``speed_to_lead.touch_types``. Re-read every pass, so a pass
    that died half-way (or an event that never came) is finished by the next one."""
    if not sources:
        return []
    b = ingest_batches.c
    since = ctx.as_of - LOOKBACK
    recent = sa.select(b.batch_id).where(b.source.in_(sources), b.loaded_at >= since)
    types = list(ctx.settings.speed_to_lead.touch_types) or ["__none__"]
    with ctx.engine.connect() as c:
        leads = db.read_df(c, sa.select(person_records.c.person_id.label("person_id"))
                           .where(person_records.c.batch_id.in_(recent)))
        hands = db.read_df(c, sa.select(touches.c.person_id.label("person_id"))
                           .where(touches.c.batch_id.in_(recent), touches.c.touch_type.in_(types),
                                  touches.c.person_id.is_not(None)))
    ids = pd.concat([leads["person_id"], hands["person_id"]]).dropna().astype("int64")
    return sorted(set(ids.tolist()))


def score_people(ctx: IntradayContext, ids: list[int]) -> int:
    """Score just these people as of now (the daily formula and live model) into today's row of
    ``scores``; the daily run later rewrites the same (person, day) row, adding none."""
    from leadflow.score import step, warehouse

    if not ids:
        return 0
    ppl = warehouse.read_people(ctx.engine, ids=ids)
    ppl = ppl[ppl["erased_at"].isna() & ~ppl["lifecycle_stage"].isin(["customer", "disqualified"])]
    if ppl.empty:
        return 0
    tch = warehouse.read_touches(ctx.engine, ctx.as_of, ids=ppl["person_id"].tolist())
    bundle, _ = step.load_live(ctx)
    out = step.score_frame(ppl, tch, ctx.settings, ctx.as_of, bundle, reasons=False)
    out["score_date"] = ctx.run_date
    out["run_id"] = ctx.run_id
    with db.transaction(ctx.engine) as c:
        step.write_scores(c, out)
    return int(len(out))
