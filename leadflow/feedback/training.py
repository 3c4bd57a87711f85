"""The retraining feed: handed-off people as labelled examples, point in time.

Contract (documented in docs/reporting.md, used by the scoring model's weekly retrain):
one row per handoff handed off at or before ``as_of``, with ``handed_off_at`` (the time the
features must be computed as of: nothing known later may leak in), ``label`` = 1 when an
outcome of that handoff with status ``opportunity`` or ``won`` occurred at or before ``as_of``
(else 0), ``converted_at`` (when), and ``outcome_known`` = 1 when any outcome of the
handoff is known by ``as_of`` (an unlabelled 0 may still convert: callers may want to drop
recent handoffs without feedback).

Wins-only CRMs never report a loss, so every 0 would be "not yet". With aging
(``feedback.aging_days``, or ``aging_days`` of the lead's first source) a handoff with no
conversion ``N`` days after its MQL time counts as lost (the one rule, ``leadflow.score.labels``):
``label_status`` is ``won`` (label 1), ``lost`` (a lost or rejected outcome), ``lost_inferred``
(aged, ``inferred`` = 1) or ``open`` (neither yet: not a usable negative). ``label_counts`` gives the
counts a trainer reports when there are too few of either class.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.score import labels
from leadflow.score.labels import LABEL_STATUSES
from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes, people

__all__ = ["LABEL_STATUSES", "label_counts", "training_examples"]


def training_examples(conn: Connection | Engine, as_of: datetime, settings: Any = None) -> pd.DataFrame:
    """Handoffs with their conversion label as known at ``as_of`` (one set-based query)."""
    conv = (sa.select(outcomes.c.handoff_id, sa.func.min(outcomes.c.occurred_at).label("converted_at"))
            .where(outcomes.c.status.in_(labels.POSITIVE), outcomes.c.occurred_at <= as_of)
            .group_by(outcomes.c.handoff_id).subquery())
    known = (sa.select(outcomes.c.handoff_id, sa.func.min(outcomes.c.occurred_at).label("first_outcome_at"))
             .where(outcomes.c.occurred_at <= as_of).group_by(outcomes.c.handoff_id).subquery())
    lost = (sa.select(outcomes.c.handoff_id, sa.func.min(outcomes.c.occurred_at).label("lost_at"))
            .where(outcomes.c.status.in_(labels.NEGATIVE), outcomes.c.occurred_at <= as_of)
            .group_by(outcomes.c.handoff_id).subquery())
    mql = labels.mql_times()
    q = (sa.select(handoffs.c.handoff_id, handoffs.c.person_id, handoffs.c.cycle, handoffs.c.run_date,
                   handoffs.c.handed_off_at, handoffs.c.qualified_by, handoffs.c.score,
                   handoffs.c.probability, conv.c.converted_at, known.c.first_outcome_at, lost.c.lost_at,
                   mql.c.mql_at, people.c.first_source)
         .select_from(handoffs.outerjoin(conv, conv.c.handoff_id == handoffs.c.handoff_id)
                      .outerjoin(known, known.c.handoff_id == handoffs.c.handoff_id)
                      .outerjoin(lost, lost.c.handoff_id == handoffs.c.handoff_id)
                      .outerjoin(mql, sa.and_(mql.c.person_id == handoffs.c.person_id,
                                              mql.c.cycle == handoffs.c.cycle))
                      .outerjoin(people, people.c.person_id == handoffs.c.person_id))
         .where(handoffs.c.handed_off_at <= as_of)
         .order_by(handoffs.c.handoff_id))
    df = db.read_df(conn, q)
    df["handed_off_at"] = pd.to_datetime(df["handed_off_at"])
    df["converted_at"] = pd.to_datetime(df["converted_at"])
    df["label"] = df["converted_at"].notna().astype(int)
    df["outcome_known"] = pd.to_datetime(df.pop("first_outcome_at")).notna().astype(int)
    df["mql_at"] = labels.aging_start(df["mql_at"], df["handed_off_at"])
    lost_at = pd.to_datetime(df.pop("lost_at"))
    st = labels.label_status(df["mql_at"], df["label"] == 1, lost_at.notna(),
                             labels.aging_days(settings, df["first_source"]), as_of)
    return pd.concat([df, st], axis=1)


def label_counts(df: pd.DataFrame) -> dict[str, int]:
    """Positives, negatives (reported and inferred) and open handoffs of a training feed."""
    st = df["label_status"].value_counts() if "label_status" in df else pd.Series(dtype=int)
    won, lost, inferred = (int(st.get(k, 0)) for k in ("won", "lost", "lost_inferred"))
    return {"positives": won, "negatives": lost + inferred, "negatives_reported": lost,
            "negatives_inferred": inferred, "open": int(st.get("open", 0))}
