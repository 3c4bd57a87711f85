"""Handoff outcomes per channel: wins, losses sales reported, and losses inferred by aging.

A wins-only CRM never reports a loss; with ``feedback.aging_days`` (or a source's) a handoff with
no win that many days after its MQL time counts as lost, *inferred* (the one rule,
``leadflow.score.labels``, applied by ``leadflow.feedback.training_examples``). The report keeps
inferred losses apart from reported ones so a manager sees what sales said and what leadflow
assumed. Cohort: handoffs of people created in the report window, as known at its ``as_of``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadflow.feedback.training import training_examples
from leadflow.report.marts import Window
from leadflow.store import db
from leadflow.store.schema import people

COLUMNS = ["channel", "handoffs", "won", "lost_reported", "lost_inferred", "open"]
STATUS_COLUMN = {"won": "won", "lost": "lost_reported", "lost_inferred": "lost_inferred", "open": "open"}


def by_channel(engine: Engine, w: Window, settings: Any = None) -> pd.DataFrame:
    """One row per first channel ('(none)' when unrecorded) with handoffs and their label status."""
    ex = training_examples(engine, w.as_of, settings)
    start, end = w.params["start_ts"], w.params["end_ts"]
    cohort = db.read_df(engine, sa.select(people.c.person_id, people.c.first_channel)
                        .where(people.c.created_at >= start, people.c.created_at < end))
    ex = ex.merge(cohort, on="person_id")
    if ex.empty:
        return pd.DataFrame(columns=COLUMNS)
    ex["channel"] = ex["first_channel"].fillna("(none)")
    counts = pd.crosstab(ex["channel"], ex["label_status"]).reindex(columns=list(STATUS_COLUMN), fill_value=0)
    out = counts.rename(columns=STATUS_COLUMN)
    out.insert(0, "handoffs", out.sum(axis=1))
    return out.reset_index()[COLUMNS].sort_values(["handoffs", "channel"], ascending=[False, True],
                                                  ignore_index=True)


def aging_note(settings: Any) -> str:
    """What 'lost (inferred)' means under this configuration, in one sentence."""
    glob = getattr(getattr(settings, "feedback", None), "aging_days", None)
    per = {s.name: s.aging_days for s in getattr(settings, "sources", []) if s.aging_days is not None}
    if glob is None and not per:
        return ("Losses are only those sales reported: no aging is configured (feedback.aging_days), so a "
                "handoff with no outcome stays open.")
    rule = f"no win within {glob} days of the MQL" if glob is not None else "no win within the source's aging days"
    extra = "; per source: " + ", ".join(f"{k} {v} days" for k, v in sorted(per.items())) if per else ""
    return (f"lost (inferred) = {rule} (feedback.aging_days{extra}): assumed by leadflow, not reported by "
            "sales. lost (reported) = a lost or rejected outcome from sales.")
