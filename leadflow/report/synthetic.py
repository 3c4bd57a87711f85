"""A synthetic, internally consistent warehouse for report tests and the report benchmark.

Writes campaigns, spend, people, touches, lifecycle events, handoffs and outcomes straight into
the warehouse tables (vectorised numpy, bulk inserts) and returns the frames it wrote, so a
test can recompute every mart independently in pandas. Not demo data for users (that is
``leadflow.demo``): it exists to exercise the marts at any size.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.canonical import SELLING_STEPS
from leadflow.store import db
from leadflow.store.schema import (
    campaign_spend,
    campaigns,
    handoffs,
    ingest_batches,
    lifecycle_events,
    outcomes,
    people,
    stg_crm_outcomes,
    touches,
)

CHANNELS = ("paid_search", "paid_social", "email", "webinar", "trade_show", "organic")
SOURCES = ("Google", "LinkedIn", "Newsletter", "Webinar", "Event", "Website")
REASONS = ("bad_timing", "no_budget", "wrong_person", "duplicate", "not_reachable")
DISQUALIFY = ("wrong_person", "competitor", "duplicate")   # leadflow.yaml feedback defaults
TOUCH_TYPES = ("form_fill", "webinar", "download", "email_click", "page_view", "demo_request")


def _days(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return pd.to_timedelta(rng.uniform(lo, hi, n), unit="D").to_numpy()


def build(n_people: int = 2000, seed: int = 7, start: date = date(2026, 9, 7), days: int = 56,
          n_campaigns: int = 12) -> dict[str, pd.DataFrame]:
    """The frames of a consistent warehouse (no database access)."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(datetime.combine(start, datetime.min.time()), "us")
    cid = np.array([f"C{i:03d}" for i in range(n_campaigns)], dtype=object)
    camp = pd.DataFrame({"campaign_id": cid, "name": [f"Campaign {i}" for i in range(n_campaigns)],
                         "channel": [CHANNELS[i % len(CHANNELS)] for i in range(n_campaigns)],
                         "first_seen": start})
    sd = pd.date_range(start, periods=days, freq="D").date
    spend = pd.DataFrame({"campaign_id": np.repeat(cid, days), "spend_date": np.tile(sd, n_campaigns),
                          "amount": np.round(rng.gamma(2.0, 60.0, n_campaigns * days), 2), "currency": "EUR"})

    pid = np.arange(1, n_people + 1)
    created = t0 + pd.to_timedelta(rng.uniform(0, days, n_people), unit="D").to_numpy().astype("timedelta64[us]")
    ci = rng.integers(0, n_campaigns + 1, n_people)           # == n_campaigns: no campaign
    first_c = np.where(ci < n_campaigns, cid[np.minimum(ci, n_campaigns - 1)], None)
    first_ch = np.where(ci < n_campaigns, camp["channel"].to_numpy()[np.minimum(ci, n_campaigns - 1)], None)
    ppl = pd.DataFrame({"person_id": pid, "email_norm": [f"p{i}@synthetic.test" for i in pid],
                        "first_campaign_id": first_c, "first_channel": first_ch,
                        "first_source": np.array(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n_people)],
                        "created_at": created, "updated_at": created, "cycle": 1, "opt_out": False,
                        "do_not_contact": False, "is_competitor": False})

    # Funnel depth per person: 1 lead, 2 mql, 3 sal, 4 sql, 5 opportunity, 6 customer.
    u = rng.random((n_people, 5))
    depth = 1 + (u[:, 0] < 0.45)
    depth = depth + (depth == 2) * (u[:, 1] < 0.7)
    depth = depth + (depth == 3) * (u[:, 2] < 0.6)
    depth = depth + (depth == 4) * (u[:, 3] < 0.6)
    depth = depth + (depth == 5) * (u[:, 4] < 0.45)
    stage_names = np.array(["lead", "mql", "sal", "sql", "opportunity", "customer"], dtype=object)
    gaps = np.cumsum(rng.uniform(0.2, 9.0, (n_people, 6)), axis=1)
    gaps[:, 0] = 0
    at = created[:, None] + (gaps * 86400e6).astype("timedelta64[us]")
    ev_p, ev_k = np.nonzero(np.arange(6)[None, :] < depth[:, None])
    ev_p, ev_k = ev_p[ev_k >= 1], ev_k[ev_k >= 1]
    ev = pd.DataFrame({"person_id": pid[ev_p], "cycle": 1, "from_stage": stage_names[ev_k - 1],
                       "to_stage": stage_names[ev_k], "occurred_at": at[ev_p, ev_k], "reason": "synthetic"})
    handed = depth >= 2
    rejected = (depth == 2) & (rng.random(n_people) < 0.8)
    lost = (depth == 5) & (rng.random(n_people) < 0.6)
    reason = np.array(REASONS, dtype=object)[rng.integers(0, len(REASONS), n_people)]
    exit_stage = np.where(rejected, np.where(np.isin(reason, DISQUALIFY), "disqualified", "recycled"),
                          np.where(lost, "recycled", None))
    ex = np.nonzero(exit_stage != None)[0]  # noqa: E711 - numpy elementwise
    ev = pd.concat([ev, pd.DataFrame({
        "person_id": pid[ex], "cycle": 1, "from_stage": stage_names[depth[ex] - 1],
        "to_stage": exit_stage[ex], "occurred_at": at[ex, np.minimum(depth[ex], 5)], "reason": "synthetic"})],
        ignore_index=True)
    current = np.where(exit_stage != None, exit_stage, stage_names[depth - 1])  # noqa: E711
    ppl["lifecycle_stage"] = current

    hi = np.nonzero(handed)[0]
    h_at = at[hi, 1]
    acted = rng.random(len(hi)) < 0.85
    first_action = np.where(acted, h_at + (rng.exponential(20, len(hi)) * 3600e6).astype("timedelta64[us]"),
                            np.datetime64("NaT"))
    ho = pd.DataFrame({"handoff_id": np.arange(1, len(hi) + 1), "person_id": pid[hi], "cycle": 1,
                       "owner_rep": np.array(["ana", "ben", "cho"], dtype=object)[rng.integers(0, 3, len(hi))],
                       "route_rule": "round_robin",
                       "qualified_by": np.where(rng.random(len(hi)) < 0.2, "hand_raiser", "threshold"),
                       "run_date": pd.to_datetime(h_at).date, "handed_off_at": h_at,
                       "sla_due_at": h_at + np.timedelta64(24, "h"), "first_action_at": first_action,
                       "status": "queued"})
    ho["sla_breached"] = ho["first_action_at"].isna() | (ho["first_action_at"] > ho["sla_due_at"])
    ho_of = pd.Series(ho["handoff_id"].to_numpy(), index=ho["person_id"].to_numpy())

    # Outcomes: response, steps reached, opportunity, close.
    d = depth[hi]
    o_parts = []
    resp_status = np.where(d >= 3, "accepted", np.where(rejected[hi], "rejected", None))
    r = np.nonzero(resp_status != None)[0]  # noqa: E711
    o_parts.append(pd.DataFrame({"person_id": pid[hi][r], "status": resp_status[r], "selling_step": None,
                                 "reason_code": np.where(resp_status[r] == "rejected", reason[hi][r], None),
                                 "amount": np.nan, "occurred_at": at[hi[r], 2]}))
    max_step = np.select([d == 3, d == 4, d == 5, d == 6],
                         [rng.integers(0, 3, len(d)), rng.integers(3, 5, len(d)),
                          rng.integers(4, 6, len(d)), np.full(len(d), 6)], -1)
    sp, sk = np.nonzero(np.arange(len(SELLING_STEPS))[None, :] <= max_step[:, None])
    step_at = at[hi[sp], 2] + (sk * 3600e6).astype("timedelta64[us]")
    o_parts.append(pd.DataFrame({"person_id": pid[hi][sp], "status": "step_reached",
                                 "selling_step": np.array(SELLING_STEPS, dtype=object)[sk], "reason_code": None,
                                 "amount": np.nan, "occurred_at": step_at}))
    oi = np.nonzero(d >= 5)[0]
    amount = np.round(rng.lognormal(9.0, 0.6, len(oi)), 2)
    o_parts.append(pd.DataFrame({"person_id": pid[hi][oi], "status": "opportunity", "selling_step": None,
                                 "reason_code": None, "amount": amount, "occurred_at": at[hi[oi], 4]}))
    close = np.where(d[oi] == 6, "won", np.where(lost[hi][oi], "lost", None))
    ci2 = np.nonzero(close != None)[0]  # noqa: E711
    o_parts.append(pd.DataFrame({"person_id": pid[hi][oi][ci2], "status": close[ci2], "selling_step": None,
                                 "reason_code": None, "amount": amount[ci2],
                                 "occurred_at": at[hi[oi][ci2], 5]}))
    outs = pd.concat(o_parts, ignore_index=True)
    outs["handoff_id"] = ho_of.reindex(outs["person_id"]).to_numpy()
    outs["source"] = "crm"
    outs["source_outcome_id"] = [f"s{i}" for i in range(len(outs))]

    # Touches: a few per person around lead creation, on random campaigns.
    nt = rng.poisson(2.5, n_people)
    tp = np.repeat(np.arange(n_people), nt)
    tc = rng.integers(0, n_campaigns, len(tp))
    t_at = created[tp] + _days(rng, len(tp), -20, 25).astype("timedelta64[us]")
    tch = pd.DataFrame({"source": "web", "source_touch_id": [f"t{i}" for i in range(len(tp))],
                        "person_id": pid[tp],
                        "touch_type": np.array(TOUCH_TYPES, dtype=object)[rng.integers(0, 6, len(tp))],
                        "occurred_at": t_at, "campaign_id": cid[tc], "channel": camp["channel"].to_numpy()[tc]})
    # Landing pages: a few popular pages and a long tail, their names unrelated to their volume.
    n_pages = max(3, n_campaigns)
    page = rng.permutation(n_pages)[np.minimum(rng.zipf(1.6, len(tp)) - 1, n_pages - 1)]
    tch["url"] = ("https://www.synthetic.test/lp/page-" + pd.Series(page).astype(str).str.zfill(3)
                  + "?utm_campaign=" + tch["campaign_id"].astype(str)).to_numpy()
    return {"campaigns": camp, "campaign_spend": spend, "people": ppl, "lifecycle_events": ev,
            "handoffs": ho, "outcomes": outs, "touches": tch}


TABLES = {"campaigns": campaigns, "campaign_spend": campaign_spend, "people": people,
          "lifecycle_events": lifecycle_events, "handoffs": handoffs, "outcomes": outcomes, "touches": touches}


def seed(engine: sa.Engine, outcomes_in_staging: bool = False, **kw: Any) -> dict[str, pd.DataFrame]:
    """Build the frames and bulk-insert them; returns the frames.

    With ``outcomes_in_staging`` the warehouse is left as it was before sales answered: people
    at most MQL, handoffs queued, and the outcomes landed in ``stg_crm_outcomes`` (state
    ``passed``) for ``leadflow.feedback.apply_outcomes`` to process.
    """
    frames = build(**kw)
    write = dict(frames)
    if outcomes_in_staging:
        ev = frames["lifecycle_events"]
        write["lifecycle_events"] = ev[ev["to_stage"] == "mql"]
        ppl = frames["people"].copy()
        ppl["lifecycle_stage"] = np.where(ppl["person_id"].isin(write["lifecycle_events"]["person_id"]), "mql", "lead")
        write["people"] = ppl
        write["handoffs"] = frames["handoffs"].assign(first_action_at=pd.NaT, sla_breached=False)
        write.pop("outcomes")
    with engine.begin() as c:
        for name, df in write.items():
            db.bulk_insert(c, TABLES[name], df)
        if outcomes_in_staging:
            o = frames["outcomes"]
            bid = c.execute(ingest_batches.insert().values(
                source="crm", kind="crm_outcomes", uri="synthetic", content_hash=f"synthetic-{len(o)}",
                rows_in=len(o), rows_landed=len(o), status="landed",
                loaded_at=datetime(2000, 1, 1))).inserted_primary_key
            stg = pd.DataFrame({"source": "crm", "batch_id": bid[0] if bid else None,
                                "row_number": np.arange(1, len(o) + 1),
                                "loaded_at": datetime(2000, 1, 1), "state": "passed",
                                "source_outcome_id": o["source_outcome_id"], "handoff_id": o["handoff_id"],
                                "email": None, "status": o["status"], "reason_code": o["reason_code"],
                                "selling_step": o["selling_step"], "amount": o["amount"],
                                "occurred_at": o["occurred_at"]})
            db.bulk_insert(c, stg_crm_outcomes, stg)
    return frames


def window(frames: dict[str, pd.DataFrame]) -> tuple[date, date]:
    """First and last day with people created (a handy report window)."""
    c = pd.to_datetime(frames["people"]["created_at"])
    return c.min().date(), c.max().date()


__all__ = ["build", "seed", "window", "timedelta"]
