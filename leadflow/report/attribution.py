"""Multi-touch revenue attribution: first, last, linear, U-shaped and W-shaped (vectorised).

Per won deal (a ``won`` outcome), the touches considered are the person's touches at or before
the opportunity was created (the first ``opportunity`` outcome of the handoff; when sales never
reported one, the won date). Weights per touch, by position among those n touches:

- first_touch: all to the first; last_touch: all to the last; linear: 1/n each;
- u_shaped: 40% first, 40% last, 20% spread over the middle ones;
- w_shaped: 30% first, 30% lead-creation touch, 30% opportunity-creation touch (the last touch
  before the opportunity), 10% spread over the others. The lead-creation touch is the latest
  touch at or before the person became a lead (``people.created_at``), else the first touch.
Where key positions coincide (1 or 2 touches, or the lead-creation touch is the first or last)
their shares add up on that touch, and weights are renormalised to 1 (so U-shaped with two
touches is 50/50, and any model with one touch gives it everything).
Each deal's amount is split in cents with the largest-remainder method, so for every model the
credited revenue sums exactly to the won revenue. Deals without touches are credited to the
person's first campaign and channel (``(no touch)`` when unknown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped")
NO_TOUCH = "(no touch)"


def _weights(pos: np.ndarray, n: np.ndarray, lead_pos: np.ndarray, model: str) -> np.ndarray:
    first, last = pos == 0, pos == n - 1
    if model == "first_touch":
        return first.astype(float)
    if model == "last_touch":
        return last.astype(float)
    if model == "linear":
        return np.ones(len(pos))
    if model == "u_shaped":
        middle = ~first & ~last
        return 0.4 * first + 0.4 * last + np.where(middle, 0.2 / np.maximum(n - 2, 1), 0.0)
    if model == "w_shaped":
        lead = pos == lead_pos
        key = first | last | lead
        # distinct key positions per deal: 1 + (lead differs from first) + (last differs from both)
        nkeys = 1 + (lead_pos != 0) + ((n - 1 != 0) & (n - 1 != lead_pos))
        others = np.maximum(n - nkeys, 1)
        return 0.3 * first + 0.3 * lead + 0.3 * last + np.where(~key, 0.1 / others, 0.0)
    raise ValueError(f"unknown attribution model {model!r} (known: {', '.join(MODELS)})")


def largest_remainder(cents: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Split each group's ``cents`` by ``weights`` (summing to 1 per group) into whole cents that
    add up exactly: floor everything, then give the missing cents to the largest remainders."""
    raw = cents * weights
    fl = np.floor(raw + 1e-9)
    rem = raw - fl
    df = pd.DataFrame({"g": group, "fl": fl, "rem": rem, "cents": cents, "i": np.arange(len(raw))})
    short = (df.groupby("g")["cents"].transform("first") - df.groupby("g")["fl"].transform("sum")).round()
    order = df.sort_values(["g", "rem", "i"], ascending=[True, False, True], kind="mergesort")
    rank = order.groupby("g").cumcount()
    bump = pd.Series(0, index=df.index)
    bump.loc[order.index] = (rank < short.loc[order.index]).astype(int)
    return (fl + bump.to_numpy()).astype(np.int64)


def credit(deals: pd.DataFrame, touches: pd.DataFrame, models: tuple[str, ...] = MODELS) -> pd.DataFrame:
    """Credited cents per model, deal and touch.

    ``deals``: outcome_id, person_id, amount, won_at, opportunity_at, lead_created_at,
    first_campaign_id, first_channel. ``touches``: touch_id, person_id, occurred_at, campaign_id,
    channel. Returns model, outcome_id, person_id, touch_id (NA for no-touch deals),
    campaign_id, channel, cents, revenue (cents / 100).
    """
    d = deals.copy()
    d["cutoff"] = pd.to_datetime(d["opportunity_at"]).fillna(pd.to_datetime(d["won_at"]))
    d["cents"] = np.round(pd.to_numeric(d["amount"]).fillna(0).to_numpy(dtype=float) * 100).astype(np.int64)
    t = d[["outcome_id", "person_id", "cutoff", "lead_created_at", "cents"]].merge(
        touches[["touch_id", "person_id", "occurred_at", "campaign_id", "channel"]], on="person_id")
    t = t[pd.to_datetime(t["occurred_at"]) <= t["cutoff"]]
    t = t.sort_values(["outcome_id", "occurred_at", "touch_id"], kind="mergesort").reset_index(drop=True)
    g = t.groupby("outcome_id", sort=False)
    pos = g.cumcount().to_numpy()
    n = g["touch_id"].transform("size").to_numpy()
    before_lead = (pd.to_datetime(t["occurred_at"]) <= pd.to_datetime(t["lead_created_at"])).astype(int)
    lead_pos = np.maximum(before_lead.groupby(t["outcome_id"]).transform("sum").to_numpy() - 1, 0)
    frames = []
    for model in models:
        w = _weights(pos, n, lead_pos, model)
        w = w / pd.Series(w).groupby(t["outcome_id"].to_numpy()).transform("sum").to_numpy()
        cents = largest_remainder(t["cents"].to_numpy(), w, t["outcome_id"].to_numpy())
        frames.append(pd.DataFrame({"model": model, "outcome_id": t["outcome_id"], "person_id": t["person_id"],
                                    "touch_id": t["touch_id"].astype("Int64"), "campaign_id": t["campaign_id"],
                                    "channel": t["channel"], "cents": cents}))
    bare = d[~d["outcome_id"].isin(t["outcome_id"])]
    for model in models:
        frames.append(pd.DataFrame({
            "model": model, "outcome_id": bare["outcome_id"], "person_id": bare["person_id"],
            "touch_id": pd.array([pd.NA] * len(bare), dtype="Int64"),
            "campaign_id": bare["first_campaign_id"].astype("object").where(bare["first_campaign_id"].notna(),
                                                                            NO_TOUCH),
            "channel": bare["first_channel"].astype("object").where(bare["first_channel"].notna(), NO_TOUCH),
            "cents": bare["cents"].to_numpy()}))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else \
        pd.DataFrame(columns=["model", "outcome_id", "person_id", "touch_id", "campaign_id", "channel", "cents"])
    out["cents"] = out["cents"].astype(np.int64)
    out["revenue"] = out["cents"] / 100.0
    return out


def summarise(credits: pd.DataFrame, by: str = "campaign_id") -> pd.DataFrame:
    """Credited revenue per ``by`` (campaign_id or channel), one column per model, side by side."""
    if credits.empty:
        return pd.DataFrame(columns=[by, *MODELS])
    cents = credits.pivot_table(index=by, columns="model", values="cents", aggfunc="sum", fill_value=0)
    cents = cents.reindex(columns=[m for m in MODELS if m in cents.columns])
    out = (cents / 100.0).reset_index()
    out.columns.name = None
    return out.sort_values(out.columns[1] if len(out.columns) > 1 else by, ascending=False).reset_index(drop=True)


def won_cents(deals: pd.DataFrame) -> int:
    """Total won revenue in cents (the figure every model's credit sums to)."""
    return int(np.round(pd.to_numeric(deals["amount"]).fillna(0).to_numpy(dtype=float) * 100).astype(np.int64).sum())
