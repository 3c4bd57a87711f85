"""A two-year marketing funnel history shaped like a real public one (MQLs, then won deals only).

Modelled on published B2B marketing funnels (e.g. Olist's "marketing funnel" data set): the
marketing system exports **MQLs** that carry only an MQL id, an origin (raw channel label), a
landing page id, a campaign and the first-contact timestamp (no e-mail, no name); sales export
**closed deals** that cite the MQL id and only ever report wins (a won_at after the lead's first
contact, a revenue figure, a seller id that serves as the deal's id). Nothing says which MQLs were
lost: a model must learn from wins alone (with aging, see docs/scoring.md).

The win probability has real, learnable signal: origin, landing page, campaign, and the first
touch's month, weekday and hour all move it (``truth`` holds each MQL's probability, never read
by leadflow). Everything is drawn from one ``numpy`` generator seeded by ``seed``, so the same
arguments give the same files.

``history_frames(...)`` returns the frames; ``write_history(out_dir, ...)`` writes dated
delivery files (``landing/mqls/mqls_<day>.csv`` by first-contact day, ``landing/deals/
deals_<day>.csv`` by won day) and a ``leadflow.yaml`` that maps them (``HISTORY_CONFIG``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

MQL_COLUMNS = ["mql_id", "first_contact_date", "landing_page_id", "origin", "campaign"]
DEAL_COLUMNS = ["mql_id", "seller_id", "won_date", "business_segment", "lead_type",
                "declared_monthly_revenue"]
# Raw origin labels as the marketing system spells them, their share and their effect on the log-odds.
ORIGINS = {"organic_search": (0.29, 0.3), "paid_search": (0.20, 0.1), "social": (0.17, -0.5),
           "unknown": (0.09, -0.2), "direct_traffic": (0.07, 0.2), "email": (0.06, -0.9),
           "referral": (0.04, 0.9), "other": (0.03, -0.4), "display": (0.03, -0.6),
           "other_publicities": (0.02, -0.4)}
CHANNEL_MAP = {"organic_search": "organic", "paid_search": "paid_search", "social": "paid_social",
               "direct_traffic": "direct", "email": "email", "referral": "referral",
               "display": "paid_social", "other_publicities": "other", "other": "other",
               "unknown": None}
SEGMENTS = ["home_decor", "health_beauty", "car_accessories", "household_utilities", "construction_tools"]
LEAD_TYPES = ["online_medium", "online_big", "industry", "offline", "online_small"]
MONTH_EFFECT = 0.45 * np.sin(np.arange(12) / 12 * 2 * np.pi)      # seasonal: spring high, autumn low
WEEKDAY_EFFECT = np.array([0.25, 0.2, 0.1, 0.0, -0.1, -0.6, -0.7])  # Mon..Sun
BASE_LOGIT = -2.1                                                    # ~12 % win overall


@dataclass(frozen=True)
class History:
    """The marketing export, the sales export, and the hidden truth (mql_id, p_win, won)."""

    mqls: pd.DataFrame
    deals: pd.DataFrame
    truth: pd.DataFrame


def _hex_ids(rng: np.random.Generator, n: int, width: int = 32) -> np.ndarray:
    """Unique hex ids like the hashes real exports use (deterministic under ``rng``)."""
    raw = rng.integers(0, 2**63 - 1, size=(n, 2), dtype=np.int64)
    s = pd.Series(raw[:, 0]).map("{:016x}".format) + pd.Series(raw[:, 1]).map("{:016x}".format)
    return s.str[:width].to_numpy(object)


def _created_at(rng: np.random.Generator, n: int, start: date, days: int) -> np.ndarray:
    """First-contact times: volume grows over the period, fewer at weekends, office hours peak."""
    day = np.floor(days * np.sqrt(rng.random(n))).astype(int)      # growing volume
    t0 = np.datetime64(start, "D") + day.astype("timedelta64[D]")
    weekend = pd.DatetimeIndex(t0).dayofweek.to_numpy() >= 5
    day = np.where(weekend & (rng.random(n) < 0.5), np.maximum(day - 2, 0), day)
    hour = np.clip(np.round(rng.normal(13, 3.5, n)), 0, 23).astype(int)
    secs = hour * 3600 + rng.integers(0, 3600, n)
    return (np.datetime64(start, "s") + day.astype("timedelta64[D]") + secs.astype("timedelta64[s]"))


def history_frames(n_leads: int = 8000, seed: int = 7, start: date = date(2024, 1, 1),
                   days: int = 730, pages: int = 60, campaigns_per_origin: int = 4) -> History:
    """The two exports of ``n_leads`` MQLs first contacted in ``days`` days from ``start``."""
    rng = np.random.default_rng(seed)
    names = list(ORIGINS)
    share = np.array([ORIGINS[o][0] for o in names])
    origin = np.array(names, dtype=object)[rng.choice(len(names), n_leads, p=share / share.sum())]
    page_pop = 1.0 / np.arange(1, pages + 1) ** 1.1                 # a few pages take most traffic
    page_ids, page_eff = _hex_ids(rng, pages), rng.normal(0, 0.7, pages)
    page = rng.choice(pages, n_leads, p=page_pop / page_pop.sum())
    camp_k = rng.integers(0, campaigns_per_origin, n_leads)
    camp_eff = rng.normal(0, 0.5, (len(names), campaigns_per_origin))
    o_idx = pd.Index(names).get_indexer(origin)
    campaign = pd.Series(origin).str.replace("_", "-") + "-" + pd.Series(camp_k + 1).astype(str)
    created = _created_at(rng, n_leads, start, days)
    ts = pd.DatetimeIndex(created)
    hour_eff = np.where((ts.hour >= 9) & (ts.hour < 17), 0.3, -0.3)
    logit = (BASE_LOGIT + np.array([ORIGINS[o][1] for o in origin]) + page_eff[page]
             + camp_eff[o_idx, camp_k] + MONTH_EFFECT[ts.month - 1] + WEEKDAY_EFFECT[ts.dayofweek]
             + hour_eff)
    p = 1 / (1 + np.exp(-logit))
    won = rng.random(n_leads) < p
    # Time to win: some the same day (hours), most within weeks; a win after the export ends is unseen.
    delay_h = np.where(rng.random(n_leads) < 0.08, rng.uniform(0.5, 6, n_leads),
                       rng.gamma(2.0, 20 * 24, n_leads))
    won_at = created + (delay_h * 3600).astype("timedelta64[s]")
    end = np.datetime64(start, "s") + np.timedelta64(days, "D")
    seen = won & (won_at < end)
    order = np.argsort(created, kind="stable")
    mql_id = _hex_ids(rng, n_leads)
    mqls = pd.DataFrame({
        "mql_id": mql_id, "first_contact_date": pd.Series(created).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "landing_page_id": page_ids[page], "origin": origin, "campaign": campaign.to_numpy(object),
    }).iloc[order].reset_index(drop=True)
    k = int(seen.sum())
    deals = pd.DataFrame({
        "mql_id": mql_id[seen], "seller_id": _hex_ids(rng, k),
        "won_date": pd.Series(won_at[seen]).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "business_segment": np.array(SEGMENTS, dtype=object)[rng.integers(0, len(SEGMENTS), k)],
        "lead_type": np.array(LEAD_TYPES, dtype=object)[rng.integers(0, len(LEAD_TYPES), k)],
        "declared_monthly_revenue": np.round(rng.lognormal(9.5, 0.8, k), -1),
    }).sort_values(["won_date", "seller_id"]).reset_index(drop=True)
    truth = pd.DataFrame({"mql_id": mql_id, "p_win": p, "won": won, "won_seen": seen})
    return History(mqls, deals, truth.iloc[order].reset_index(drop=True))


HISTORY_CONFIG = """\
# A two-year MQL -> won-deal history (leadflow.demo.history). Files are named by their day:
# `leadflow backfill --from <first day> --to <last day>` replays them in order.
paths: {{data_dir: data, reports_dir: reports, lists_dir: reports/lead_lists}}
sources:
  - name: mqls
    owner: marketing-ops
    kind: inbound_leads
    connector: {{type: file, path: landing/mqls, pattern: "mqls_*.csv", format: csv, min_age_seconds: 0}}
    mapping:
      mql_id: source_record_id
      first_contact_date: created_at
      landing_page_id: landing_url
      origin: channel
      campaign: campaign_id
    value_maps:
      channel: {channel_map}
    attributes: {{origin: capture, landing_page_id: capture}}
  - name: deals
    owner: sales-ops
    kind: crm_outcomes
    record_source: mqls
    connector: {{type: file, path: landing/deals, pattern: "deals_*.csv", format: csv, min_age_seconds: 0}}
    mapping:
      seller_id: source_outcome_id
      mql_id: source_record_id
      won_date: occurred_at
      declared_monthly_revenue: amount
    constants: {{status: won}}
    match_on: [source_record_id]
feedback:
  aging_days: 180
qualification: {{min_grade: D, min_score: 0}}
routing:
  reps: [{{id: sam, name: Sam, capacity_per_day: 100000}}]
"""


def delivery_day(stamps: pd.Series, every: str, last: date) -> pd.Series:
    """The day a record's export is dated: its own day, or the last day of its week / month /
    quarter (never after ``last``, the history's final day)."""
    d = pd.to_datetime(stamps.str[:10])
    if every == "week":
        d = d + pd.to_timedelta(6 - d.dt.dayofweek, unit="D")
    elif every == "month":
        d = d + pd.offsets.MonthEnd(0)
    elif every == "quarter":
        d = d + pd.offsets.QuarterEnd(0)
    elif every != "day":
        raise ValueError(f"every must be day, week, month or quarter, not {every!r}")
    return d.clip(upper=pd.Timestamp(last)).dt.strftime("%Y-%m-%d")


def write_history(out_dir: Path | str, n_leads: int = 8000, seed: int = 7, start: date = date(2024, 1, 1),
                  days: int = 730, every: str = "day") -> Path:
    """Write the dated delivery files (one per ``every``: day, week, month or quarter, named by its last
    day) and ``leadflow.yaml`` under ``out_dir``; return the config path."""
    out = Path(out_dir)
    h = history_frames(n_leads, seed, start, days)
    last = start + timedelta(days=days - 1)
    for name, df, col in (("mqls", h.mqls, "first_contact_date"), ("deals", h.deals, "won_date")):
        folder = out / "landing" / name
        folder.mkdir(parents=True, exist_ok=True)
        for day, g in df.groupby(delivery_day(df[col], every, last), sort=True):
            g.to_csv(folder / f"{name}_{day}.csv", index=False)
    channel_map = "{" + ", ".join(f"{k}: {v if v else 'null'}" for k, v in CHANNEL_MAP.items()) + "}"
    cfg = out / "leadflow.yaml"
    cfg.write_text(HISTORY_CONFIG.format(channel_map=channel_map))
    return cfg
