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
    t = touches[[key, "touch_type", "occurred_at"]]
    occurred = pd.to_datetime(t["occurred_at"]).to_numpy(dtype="datetime64[ns]")
    if isinstance(as_of, pd.Series):
        when = pd.to_datetime(as_of).to_numpy(dtype="datetime64[ns]")
    else:
        when = np.datetime64(pd.Timestamp(as_of).to_datetime64(), "ns")
    age = (when - occurred).astype("timedelta64[s]").astype(np.int64) / SECONDS_PER_DAY
    keep = (age >= 0) & t["touch_type"].isin(list(rules)).to_numpy()
    t = pd.DataFrame({key: t[key].to_numpy()[keep], "touch_type": t["touch_type"].to_numpy()[keep],
                      "day": occurred[keep].astype("datetime64[D]"), "age": age[keep]})
    if t.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    # Daily cap: the n-th touch of a type on a day counts only while n < cap.
    t = t.sort_values([key, "touch_type", "day", "age"], ascending=[True, True, True, False],
                      kind="stable")
    rank = t.groupby([key, "touch_type", "day"], sort=False).cumcount().to_numpy()
    caps = t["touch_type"].map({k: r.cap_per_day for k, r in rules.items()}).to_numpy()
    t = t[rank < caps]
    pts = t["touch_type"].map({k: float(r.points) for k, r in rules.items()}).to_numpy()
    t = t.assign(points=pts * decay_weight(t["age"].to_numpy(), scoring))
    out = (t.groupby([key, "touch_type"], sort=False, observed=True)
             .agg(points=("points", "sum"), count=("age", "size"), last_age_days=("age", "min"))
             .reset_index())
    return out[cols]


def points(contrib: pd.DataFrame, index: pd.Index, key: str = "person_id") -> pd.Series:
    """Engagement points per key, aligned to ``index`` (keys without touches get 0)."""
    if contrib.empty:
        return pd.Series(0.0, index=index)
    total = contrib.groupby(key, sort=False)["points"].sum()
    return total.reindex(index, fill_value=0.0).astype(float)
