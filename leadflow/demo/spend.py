"""Campaigns over channels and their daily spend (organic and referral cost nothing)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from leadflow.demo import pools as P


def make_campaigns(rng: np.random.Generator) -> pd.DataFrame:
    """~30 campaigns: a few per channel, each with an id, a name and a channel."""
    rows = []
    cid = 1001
    for ch, spec in P.CHANNELS.items():
        themes = P.CAMPAIGN_THEMES[ch][: spec["n"]]
        for th in themes:
            rows.append({"campaign_id": f"CMP-{cid}", "campaign_name": f"FY26 {th}", "channel": ch,
                         "channel_label": spec["label"], "weight": float(rng.uniform(0.5, 1.5))})
            cid += 1
    return pd.DataFrame(rows)


def pick_campaign(rng: np.random.Generator, campaigns: pd.DataFrame, channel: np.ndarray) -> np.ndarray:
    """A campaign of each row's channel, weighted by the campaign's reach."""
    out = np.empty(len(channel), dtype=object)
    for ch, grp in campaigns.groupby("channel"):
        m = channel == ch
        w = grp["weight"].to_numpy()
        out[m] = grp["campaign_id"].to_numpy(object)[rng.choice(len(grp), size=m.sum(), p=w / w.sum())]
    return out


def daily_spend(rng: np.random.Generator, campaigns: pd.DataFrame, leads: pd.DataFrame,
                start: date, days: int) -> pd.DataFrame:
    """Spend per campaign per day, roughly cost-per-lead x leads with noise; trade shows are lumpy."""
    dates = [start + timedelta(days=i) for i in range(days)]
    grid = pd.MultiIndex.from_product([campaigns["campaign_id"], range(days)], names=["campaign_id", "d"])
    cnt = leads.groupby(["campaign_id", "day"]).size()
    cnt.index = cnt.index.set_names(["campaign_id", "d"])
    n = cnt.reindex(grid, fill_value=0).to_numpy(float)
    c = campaigns.set_index("campaign_id").loc[grid.get_level_values(0)]
    cpl = c["channel"].map({k: v["cpl"] for k, v in P.CHANNELS.items()}).to_numpy(float)
    base = np.maximum(n, 2.0) * cpl * np.exp(rng.normal(0, 0.25, len(n)))
    lumpy = (c["channel"] == "trade_show").to_numpy()
    base = np.where(lumpy, np.where(rng.random(len(n)) < 0.3, base * 3.0, base * 0.15), base)
    amount = np.round(base, 2)
    return pd.DataFrame({
        "Date": [dates[i].isoformat() for i in grid.get_level_values(1)],
        "Campaign ID": grid.get_level_values(0),
        "Campaign Name": c["campaign_name"].to_numpy(object),
        "Channel": c["channel_label"].to_numpy(object),
        "Cost": amount,
        "Currency": "USD",
        "day": grid.get_level_values(1),
    })
