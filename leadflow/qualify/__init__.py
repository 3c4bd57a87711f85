"""Qualification: who becomes an MQL today, by clear rules from ``qualification:``.

- ``threshold``: grade at least ``min_grade`` and rule score at least ``min_score``;
- ``probability``: model probability at least ``min_probability`` (when set and a model is live);
- ``hand_raiser``: a ``hand_raiser_touches`` touch (demo request, contact sales) in the current
  cycle qualifies at once, whatever the score;
- recycled people qualify again (as a new cycle) once ``recycle_after_days`` have passed since
  they were recycled, or at once when they raise a hand.

Reads the day's ``scores`` (written by ``leadflow.score.score_people``) and ``touches``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.qualify.rules import GRADE_RANK, SUPPRESSION_REASONS, WITH_SALES, priority, qualify, suppression_reason
from leadflow.store import db

_CANDIDATES = """
WITH hr AS (
    SELECT t.person_id, MAX(t.occurred_at) AS hand_raised_at
    FROM touches t
    JOIN people p ON p.person_id = t.person_id
    WHERE t.touch_type IN ({types}) AND t.occurred_at <= :as_of{only_t}
{fresh_t}
      AND NOT EXISTS (SELECT 1 FROM lifecycle_events le
                      WHERE le.person_id = p.person_id AND le.cycle = p.cycle
                        AND p.lifecycle_stage = 'recycled' AND le.to_stage = 'recycled'
                        AND le.occurred_at >= t.occurred_at)
      AND (p.cycle <= 1
           OR NOT EXISTS (SELECT 1 FROM lifecycle_events le
                          WHERE le.person_id = p.person_id AND le.cycle = p.cycle)
           OR EXISTS (SELECT 1 FROM lifecycle_events le
                      WHERE le.person_id = p.person_id AND le.cycle = p.cycle
                        AND le.occurred_at < t.occurred_at))
    GROUP BY t.person_id
),
ids AS (
    -- the hand-raise time travels with the id: a LEFT JOIN of the materialised hr has no index
    -- (SQLite builds one every run, or scans hr once per candidate when the plan changes)
    SELECT person_id, MAX(hand_raised_at) AS hand_raised_at FROM (
        SELECT sc.person_id, CAST(NULL AS TIMESTAMP) AS hand_raised_at
        FROM scores sc JOIN people sp ON sp.person_id = sc.person_id
        WHERE sc.score_date = :d AND ({worth}){only_s}{fresh_s}
        UNION ALL
        SELECT person_id, hand_raised_at FROM hr
    ) both_ GROUP BY person_id
)
SELECT p.person_id, p.lifecycle_stage, p.cycle, p.email_norm, p.country, p.company_size,
       p.account_id, p.opt_out, p.do_not_contact, p.is_competitor, p.erased_at,
       a.domain AS account_domain, a.owner_rep AS account_owner, a.is_customer, a.has_open_deal,
       a.country AS account_country, a.company_size AS account_size,
       s.score, s.grade, s.probability, s.model_version,
       ids.hand_raised_at, p.created_at AS lead_created_at,
       (SELECT MAX(t2.occurred_at) FROM touches t2
         WHERE t2.person_id = p.person_id AND t2.occurred_at <= :as_of) AS last_touch_at,
       (SELECT MAX(le.occurred_at) FROM lifecycle_events le
         WHERE le.person_id = p.person_id AND le.cycle = p.cycle AND le.to_stage = 'recycled'
       ) AS recycled_at
FROM ids
JOIN people p ON p.person_id = ids.person_id
LEFT JOIN scores s ON s.person_id = p.person_id AND s.score_date = :d
LEFT JOIN accounts a ON a.account_id = p.account_id
"""


# hr: a hand-raise touch counts when it came after the person was recycled in this cycle and
# after the cycle began (cycles > 1). Hand-raise touches are found through ix_touches_type
# (migration 0015), lifecycle events through uq_lifecycle_step (person first).
#
# _STALE (the daily run; ``{p}``: the person, joined in the branch): people handed off for their
# target cycle on an earlier day are left out, by hand-raise and by score alike. They could only
# be ``already_queued`` (nothing is written for them), and there are as many of them as the
# warehouse has handoffs: the daily queue reads the day's possible MQLs, not the warehouse's.
# The handoff is looked up by ``uq_handoff_person_cycle`` for the person already joined: a second
# join of ``people`` inside the test made PostgreSQL expect 130 handoffs where 31,263 stood (442k
# people) and hash every person and every earlier handoff each day.
_STALE = """
      AND NOT EXISTS (SELECT 1 FROM handoffs h
                      WHERE h.person_id = {p}.person_id AND h.run_date < :d
                        AND h.cycle = {p}.cycle + CASE WHEN {p}.lifecycle_stage = 'recycled' THEN 1 ELSE 0 END)"""


def _worth(q: Any, params: dict[str, Any]) -> str:
    """SQL over today's ``scores`` row: the score alone could qualify (``qualify``'s threshold
    or probability rule). People it leaves out would be ``not_qualified`` whatever else holds,
    and nothing is written for them, so the queue reads only the day's possible MQLs (plus
    hand-raisers), not every scored person of the warehouse."""
    grades = [g for g, r in GRADE_RANK.items() if r <= GRADE_RANK[q.min_grade]]
    params.update({f"g{i}": g for i, g in enumerate(grades)}, min_score=float(q.min_score))
    sql = f"(sc.grade IN ({', '.join(f':g{i}' for i in range(len(grades)))}) AND sc.score >= :min_score)"
    if q.min_probability is not None:
        params["min_prob"] = float(q.min_probability)
        sql += " OR sc.probability >= :min_prob"
    return sql


def candidates(conn: Connection | sa.Engine, ctx: Any, person_ids: list[int] | None = None) -> pd.DataFrame:
    """Everyone scored today whose score could qualify them, or with a hand-raise in their
    cycle, with what the rules need, except people handed off for their target cycle on an
    earlier day (``_STALE``); with ``person_ids`` only those people, stale or not (the intraday
    path reads just its new records)."""
    q = ctx.settings.qualification
    types = list(q.hand_raiser_touches) or ["__none__"]
    names = ", ".join(f":t{i}" for i in range(len(types)))
    params: dict[str, Any] = {"d": ctx.run_date, "as_of": ctx.as_of}
    params.update({f"t{i}": t for i, t in enumerate(types)})
    worth = _worth(q, params)
    only = {"only_t": "", "only_s": "", "fresh_t": _STALE.format(p="p"), "fresh_s": _STALE.format(p="sp")}
    binds: list[sa.BindParameter[Any]] = [sa.bindparam("d", type_=sa.Date),
                                          sa.bindparam("as_of", type_=sa.DateTime)]
    if person_ids is not None:
        if not person_ids:
            return pd.DataFrame()
        only = {"only_t": " AND t.person_id IN :ids", "only_s": " AND sc.person_id IN :ids",
                "fresh_t": "", "fresh_s": ""}   # the intraday path: its few people, as they are
        params["ids"] = sorted({int(i) for i in person_ids})
        binds.append(sa.bindparam("ids", expanding=True))
    stmt = sa.text(_CANDIDATES.format(types=names, worth=worth, **only)).bindparams(*binds)
    df = db.read_df(conn, stmt, params)
    if df.empty:
        return df
    # text() on SQLite returns strings
    for c in ("hand_raised_at", "recycled_at", "erased_at", "lead_created_at", "last_touch_at"):
        df[c] = pd.to_datetime(df[c], format="mixed")
    df["hand_raiser"] = df["hand_raised_at"].notna()
    df["target_cycle"] = df["cycle"].astype("int64") + (df["lifecycle_stage"] == "recycled").astype("int64")
    # Person values first, account values where the person's are missing.
    df["country"] = df["country"].where(df["country"].notna(), df["account_country"])
    df["company_size"] = df["company_size"].where(df["company_size"].notna(), df["account_size"])
    df["domain"] = df["account_domain"].where(df["account_domain"].notna(),
                                              df["email_norm"].astype("string").str.rsplit("@", n=1).str[-1])
    return df


def existing_handoffs(conn: Connection | sa.Engine, pairs: pd.DataFrame) -> pd.Series:
    """True where (person_id, target_cycle) already has a handoff."""
    if pairs.empty:
        return pd.Series([], dtype=bool)
    from leadflow.store import frames
    from leadflow.store.schema import handoffs
    ids = pairs["person_id"].astype("int64").unique().tolist()
    have = frames.read_ids(conn, sa.select(handoffs.c.person_id, handoffs.c.cycle),
                           handoffs.c.person_id, ids)
    key = pd.MultiIndex.from_frame(pairs[["person_id", "target_cycle"]].astype("int64"))
    hk = pd.MultiIndex.from_frame(have[["person_id", "cycle"]].astype("int64")) if len(have) \
        else pd.MultiIndex.from_arrays([[], []])
    return pd.Series(key.isin(hk), index=pairs.index)


__all__ = ["candidates", "existing_handoffs", "qualify", "suppression_reason", "priority",
           "GRADE_RANK", "SUPPRESSION_REASONS", "WITH_SALES"]
