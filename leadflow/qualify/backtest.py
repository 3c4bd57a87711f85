"""Replay past scores to set the MQL threshold from sales capacity.

Sales can work a fixed number of new MQLs a day. This replays the last ``weeks`` of stored daily
``scores`` with the outcomes sales later recorded and, for any threshold on the rule score (with
the configured ``min_grade``) or on the model probability, counts:

- **MQLs**: people whose score reached the threshold on some day of the window (each person
  once, on the first such day) and MQLs per day of the window;
- **wins captured**: those MQLs whose handoff later converted (reached ``opportunity`` or
  ``won``, the model's own label); **expected wins**: the sum of their model probability on the
  day they crossed (when a model was live);
- **wins lost below the line**: converted people whose score never reached the threshold.

The recommendation is the lowest threshold whose MQLs per day fit the capacity, so sales is
filled but not flooded. Hand-raisers qualify whatever the threshold and are not counted here.
Nothing changes until a person sets ``qualification.min_score`` / ``min_probability`` in
``leadflow.yaml``. Outcomes are realised only for people sales saw, so "wins lost below the
line" counts wins among people the old threshold let through; it cannot see the unseen.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.config import Settings
from leadflow.qualify.rules import GRADE_RANK
from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes, scores

POSITIVE = ("opportunity", "won")
By = Literal["score", "probability"]


def history(conn: Connection | Engine, start: date, end: date) -> pd.DataFrame:
    """Daily scores in [start, end) with each person's realised outcome (converted: bool)."""
    sc = db.read_df(conn, sa.select(scores.c.person_id, scores.c.score_date, scores.c.grade,
                                    scores.c.score, scores.c.probability)
                    .where(scores.c.score_date >= start, scores.c.score_date < end))
    won = db.read_df(conn, sa.select(handoffs.c.person_id).distinct()
                     .join(outcomes, outcomes.c.handoff_id == handoffs.c.handoff_id)
                     .where(outcomes.c.status.in_(POSITIVE)))
    sc["score_date"] = pd.to_datetime(sc["score_date"]).dt.date
    sc["converted"] = sc["person_id"].isin(set(won["person_id"].tolist()))
    return sc


def _measure(df: pd.DataFrame, by: By, min_grade: str) -> pd.Series:
    """What the threshold is compared with: the score (only for grades at or above min_grade,
    like the live rule) or the probability; NaN where the row can never qualify."""
    if by == "probability":
        return pd.to_numeric(df["probability"], errors="coerce")
    ok = df["grade"].map(GRADE_RANK) <= GRADE_RANK[min_grade]
    return pd.to_numeric(df["score"], errors="coerce").where(ok.fillna(False).astype(bool))


def replay(df: pd.DataFrame, threshold: float, by: By, min_grade: str, days: int) -> dict[str, Any]:
    """The figures for one threshold (each person an MQL once, on their first crossing day)."""
    m = _measure(df, by, min_grade)
    hit = df[(m >= threshold).fillna(False).to_numpy()]
    first = hit.sort_values(["person_id", "score_date"], kind="stable").drop_duplicates("person_id")
    people_won = df.loc[df["converted"], "person_id"].unique()
    per_day = first.groupby("score_date").size()
    captured = int(first["converted"].sum())
    p = pd.to_numeric(first["probability"], errors="coerce")
    return {"threshold": float(threshold), "mqls": int(len(first)),
            "mqls_per_day": round(len(first) / max(days, 1), 2),
            "busiest_day": int(per_day.max()) if len(per_day) else 0,
            "wins_captured": captured,
            "expected_wins": round(float(p.sum()), 1) if p.notna().any() else None,
            "wins_below_line": int(len(people_won) - captured)}


def recommend(df: pd.DataFrame, capacity_per_day: float, by: By, min_grade: str,
              days: int) -> float | None:
    """The lowest threshold whose MQLs per day stay within capacity (None: no scores)."""
    m = _measure(df, by, min_grade)
    best = m.groupby(df["person_id"]).max().dropna().to_numpy()
    if not len(best):
        return None
    cands = np.unique(best)                       # ascending; volume falls as t rises
    volume = len(best) - np.searchsorted(np.sort(best), cands, side="left")
    fits = np.flatnonzero(volume <= capacity_per_day * days)
    if not len(fits):                             # even the top score alone floods sales
        return float(np.nextafter(cands[-1], np.inf))
    return float(cands[fits[0]])


def backtest(settings: Settings, conn: Connection | Engine, end: date, *, capacity: float,
             per: Literal["day", "rep"] = "day", weeks: int = 8, by: By = "score") -> dict[str, Any]:
    """Replay ``weeks`` before ``end`` and compare the configured threshold with the one that
    fills ``capacity`` MQLs a day (``per='rep'``: capacity per rep x the reps configured)."""
    q = settings.qualification
    reps = len(settings.routing.reps)
    if per == "rep" and not reps:
        from leadflow.errors import LeadflowError
        raise LeadflowError("--per rep: no reps under routing.reps in the configuration")
    per_day = capacity * (reps if per == "rep" else 1)
    start = end - timedelta(days=7 * weeks)
    df = history(conn, start, end)
    days = 7 * weeks
    current = q.min_probability if by == "probability" else q.min_score
    rec = recommend(df, per_day, by, q.min_grade, days)
    out: dict[str, Any] = {"window": [str(start), str(end)], "days": days, "by": by,
                           "capacity_per_day": per_day, "scored_people": int(df["person_id"].nunique()),
                           "current": replay(df, current, by, q.min_grade, days)
                           if current is not None and len(df) else None,
                           "recommended": replay(df, rec, by, q.min_grade, days)
                           if rec is not None else None}
    key = "min_probability" if by == "probability" else "min_score"
    out["apply"] = (f"to apply, set qualification.{key}: {round(rec, 4)} in leadflow.yaml"
                    if rec is not None else "no scores in the window: nothing to recommend")
    return out
