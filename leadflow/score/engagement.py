"""Engagement points from touches: per-type points, time decay, daily caps, negative points.

Everything is one pass of vectorised filters and group-bys over the touch table:
  1. keep touches of a configured type that happened at or before the scoring time;
  2. per (lead, touch type, calendar day) keep only the first ``cap_per_day`` touches, so a
     bot hammering the pricing page counts no more than a person would;
  3. weight each kept touch by its age: half-life decay ``0.5 ** (age / half_life)`` or
     step decay (a factor per age band, 0 beyond the last band);
  4. sum per (lead, type) -> contributions (with count and age of the latest, for reasons),
     then per lead -> engagement points. Unsubscribes and the like carry negative points.

The scoring time may be one instant (daily scoring, ``ctx.as_of``) or one per row (training:
each handoff's own time), so the same code builds point-in-time training features.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from leadflow.config import Scoring

SECONDS_PER_DAY = 86400.0


def decay_weight(age_days: np.ndarray, scoring: Scoring) -> np.ndarray:
    """Share of a touch's points still counted at this age (1 when fresh)."""
    age = np.clip(np.asarray(age_days, dtype=float), 0.0, None)
    if scoring.decay == "half_life":
        return np.power(0.5, age / scoring.half_life_days)
    steps = sorted(scoring.decay_steps, key=lambda s: s.max_age_days)
    conds = [age <= s.max_age_days for s in steps]
    return np.select(conds, [s.factor for s in steps], default=0.0)


def contributions(touches: pd.DataFrame, scoring: Scoring, as_of: datetime | pd.Series,
                  key: str = "person_id") -> pd.DataFrame:
    """Points per (key, touch_type): columns key, touch_type, points, count, last_age_days.

    ``touches`` needs ``key``, ``touch_type`` and ``occurred_at``; ``as_of`` is one instant or a
    Series aligned with ``touches`` (each touch's own scoring time). Touches after the scoring
    time are ignored: they are unknown at that moment.
    """
    cols = [key, "touch_type", "points", "count", "last_age_days"]
    rules = scoring.engagement
    if touches.empty or not rules:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    occurred = pd.to_datetime(touches["occurred_at"]).to_numpy(dtype="datetime64[ns]")
    if isinstance(as_of, pd.Series):
        when = pd.to_datetime(as_of).to_numpy(dtype="datetime64[ns]")
    else:
        when = np.datetime64(pd.Timestamp(as_of).to_datetime64(), "ns")
    age = (when - occurred).astype("timedelta64[s]").astype(np.int64) / SECONDS_PER_DAY
    codes, types = pd.factorize(touches["touch_type"], use_na_sentinel=True)
    types = np.asarray(types, dtype=object)
    rule_of = [rules.get(str(x)) for x in types]
    scored = np.array([r is not None for r in rule_of] + [False], dtype=bool)
    keep = (age >= 0) & scored[codes]
    k = touches[key].to_numpy()[keep]
    c = codes[keep]
    day = occurred[keep].astype("datetime64[D]").astype(np.int64)
    age = age[keep]
    if not len(k):
        return pd.DataFrame({c_: pd.Series(dtype=float) for c_ in cols})
    # Daily cap: per (key, type, day), oldest first, the n-th touch counts only while n < cap.
    order = np.lexsort((-age, day, c, k))
    k, c, day, age = k[order], c[order], day[order], age[order]
    pos = np.arange(len(k))
    same = np.r_[False, (k[1:] == k[:-1]) & (c[1:] == c[:-1])]       # same (key, type)
    start = np.maximum.accumulate(np.where(same & np.r_[False, day[1:] == day[:-1]], 0, pos))
    caps = np.array([r.cap_per_day if r else 0 for r in rule_of] + [0], dtype=np.int64)
    counted = (pos - start) < caps[c]
    k, c, age, same = k[counted], c[counted], age[counted], same[counted]
    same = np.r_[False, (k[1:] == k[:-1]) & (c[1:] == c[:-1])]
    pts = np.array([float(r.points) if r else 0.0 for r in rule_of] + [0.0])[c]
    pts = pts * decay_weight(age, scoring)
    # sum per (key, type): rows of one pair are adjacent after the sort
    starts = np.flatnonzero(~same)
    gid = np.cumsum(~same) - 1
    out = pd.DataFrame({
        key: k[starts], "touch_type": types[c[starts]],
        "points": np.bincount(gid, weights=pts),
        "count": np.bincount(gid).astype(np.int64),
        "last_age_days": np.minimum.reduceat(age, starts),
    })
    return out[cols]


def points(contrib: pd.DataFrame, index: pd.Index, key: str = "person_id") -> pd.Series:
    """Engagement points per key, aligned to ``index`` (keys without touches get 0)."""
    if contrib.empty:
        return pd.Series(0.0, index=index)
    total = contrib.groupby(key, sort=False)["points"].sum()
    return total.reindex(index, fill_value=0.0).astype(float)
