"""The retraining feed: handed-off people as labelled examples, point in time.

Contract (documented in docs/reporting.md, used by the scoring model's weekly retrain):
one row per handoff handed off at or before ``as_of``, with ``handed_off_at`` (the time the
features must be computed as of: nothing known later may leak in), ``label`` = 1 when an
outcome of that handoff with status ``opportunity`` or ``won`` occurred at or before ``as_of``
(else 0), ``converted_at`` (when), and ``outcome_known`` = 1 when any outcome of the
handoff is known by ``as_of`` (an unlabelled 0 may still convert: callers may want to drop
recent handoffs without feedback).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes


def training_examples(conn: Connection | Engine, as_of: datetime) -> pd.DataFrame:
    """Handoffs with their conversion label as known at ``as_of`` (one set-based query)."""
    conv = (sa.select(outcomes.c.handoff_id, sa.func.min(outcomes.c.occurred_at).label("converted_at"))
            .where(outcomes.c.status.in_(("opportunity", "won")), outcomes.c.occurred_at <= as_of)
            .group_by(outcomes.c.handoff_id).subquery())
    known = (sa.select(outcomes.c.handoff_id, sa.func.min(outcomes.c.occurred_at).label("first_outcome_at"))
             .where(outcomes.c.occurred_at <= as_of).group_by(outcomes.c.handoff_id).subquery())
    q = (sa.select(handoffs.c.handoff_id, handoffs.c.person_id, handoffs.c.cycle, handoffs.c.run_date,
                   handoffs.c.handed_off_at, handoffs.c.qualified_by, handoffs.c.score,
                   handoffs.c.probability, conv.c.converted_at, known.c.first_outcome_at)
         .select_from(handoffs.outerjoin(conv, conv.c.handoff_id == handoffs.c.handoff_id)
                      .outerjoin(known, known.c.handoff_id == handoffs.c.handoff_id))
         .where(handoffs.c.handed_off_at <= as_of)
         .order_by(handoffs.c.handoff_id))
    df = db.read_df(conn, q)
    df["handed_off_at"] = pd.to_datetime(df["handed_off_at"])
    df["converted_at"] = pd.to_datetime(df["converted_at"])
    df["label"] = df["converted_at"].notna().astype(int)
    df["outcome_known"] = pd.to_datetime(df.pop("first_outcome_at")).notna().astype(int)
    return df
