"""A small synthetic warehouse for scoring tests: people, touches, handoffs and outcomes.

Outcomes depend on the industry attribute, seniority and demo requests, with noise, so a model
has something real to learn and the rules (which ignore industry) can be beaten.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes, people, touches

SCORING = {
    "fit_rules": [
        {"field": "seniority", "in": ["vp", "c_level"], "points": 30, "reason": "Senior title"},
        {"field": "job_function", "equals": "marketing", "points": 15, "reason": "Works in marketing"},
        {"field": "company_size", "min": 200, "points": 15, "reason": "Company of {value} people"},
        {"field": "is_free_mail", "equals": True, "points": -20, "reason": "Uses a free-mail address"},
        {"field": "seniority", "equals": "student", "points": -40, "reason": "Student"},
    ],
    "grades": {"A": 45, "B": 25, "C": 10},
    "engagement": {
        "demo_request": {"points": 40, "cap_per_day": 1},
        "pricing_page": {"points": 10, "cap_per_day": 3},
        "email_click": {"points": 3, "cap_per_day": 2},
        "unsubscribe": {"points": -25, "cap_per_day": 1},
    },
    "half_life_days": 14,
}


def config(**model) -> dict:
    return {
        "sources": [{
            "name": "web", "owner": "ops", "kind": "inbound_leads",
            "connector": {"type": "file", "path": "landing"},
            "attributes": {"plan_interest": "capture", "call_notes": "after_contact"},
        }],
        "scoring": SCORING,
        "model": {"min_conversions": 50, "artifacts_dir": "models", **model},
    }


def people_frame(n: int, start: datetime, rng: np.random.Generator, offset: int = 0) -> pd.DataFrame:
    ids = np.arange(1 + offset, n + 1 + offset)
    sen = rng.choice(["vp", "director", "manager", "ic", "student", "c_level"], n)
    ind = rng.choice(["software", "retail", "finance", "education"], n)
    plan = rng.choice(["enterprise", "team", "free"], n)
    created = start + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="min") \
        + pd.to_timedelta(np.arange(n) % 120, unit="D")
    return pd.DataFrame({
        "person_id": ids, "email_norm": [f"p{i}@example.com" for i in ids],
        "first_name": "Pat", "last_name": "Doe", "job_title": "VP of Marketing",
        "seniority": sen, "job_function": rng.choice(["marketing", "sales", "it"], n),
        "industry": ind, "company_size": rng.choice([20, 500, 5000], n),
        "country": "US", "is_free_mail": rng.random(n) < 0.2, "is_role_address": False,
        "lifecycle_stage": "lead", "cycle": 1, "opt_out": False, "do_not_contact": False,
        "is_competitor": False, "first_source": "web", "first_channel": "organic",
        "attributes": [{"plan_interest": p, "call_notes": "x"} for p in plan],
        "created_at": created, "updated_at": created,
    })


def touches_frame(ppl: pd.DataFrame, rng: np.random.Generator, offset: int = 0) -> pd.DataFrame:
    rows = []
    for tt, rate in (("demo_request", 0.3), ("pricing_page", 1.0), ("email_click", 1.5)):
        k = rng.poisson(rate, len(ppl))
        pid = np.repeat(ppl["person_id"].to_numpy(), k)
        base = np.repeat(pd.to_datetime(ppl["created_at"]).to_numpy(), k)
        occ = base + pd.to_timedelta(rng.integers(0, 5 * 24 * 60, len(pid)), unit="min").to_numpy()
        rows.append(pd.DataFrame({"person_id": pid, "touch_type": tt, "occurred_at": occ}))
    t = pd.concat(rows, ignore_index=True)
    t["source"] = "events"
    t["source_touch_id"] = [f"t{offset}-{i}" for i in range(len(t))]
    return t


def truth(ppl: pd.DataFrame, tch: pd.DataFrame) -> np.ndarray:
    demo = tch[tch.touch_type == "demo_request"].groupby("person_id").size() \
        .reindex(ppl.person_id, fill_value=0).to_numpy()
    plan = ppl["attributes"].map(lambda a: a["plan_interest"]).to_numpy()
    z = (-1.2 + 1.4 * (ppl.industry.to_numpy() == "software") + 1.0 * (plan == "enterprise")
         - 1.0 * (plan == "free") + 0.8 * np.minimum(demo, 2)
         + 0.6 * np.isin(ppl.seniority.to_numpy(), ["vp", "c_level"]))
    return 1 / (1 + np.exp(-z))


def populate(engine: sa.Engine, n: int = 2000, seed: int = 1, outcomes_share: float = 1.0,
             start: datetime = datetime(2026, 6, 1)) -> dict:
    """People, touches, a handoff 6 days after each person arrived and an outcome for a share."""
    rng = np.random.default_rng(seed)
    ppl = people_frame(n, start, rng)
    tch = touches_frame(ppl, rng)
    p = truth(ppl, tch)
    y = rng.random(n) < p
    ho = pd.DataFrame({
        "handoff_id": ppl.person_id, "person_id": ppl.person_id, "cycle": 1, "owner_rep": "r1",
        "route_rule": "round_robin", "qualified_by": "threshold", "run_date": None,
        "handed_off_at": pd.to_datetime(ppl.created_at) + pd.Timedelta(days=6),
        "sla_breached": False, "status": "queued"})
    ho["run_date"] = ho["handed_off_at"].dt.date
    has = rng.random(n) < outcomes_share
    oc = pd.DataFrame({
        "source": "crm", "source_outcome_id": [f"o{i}" for i in ppl.person_id],
        "handoff_id": ppl.person_id, "person_id": ppl.person_id,
        "status": np.where(y, "opportunity", "rejected"),
        "occurred_at": ho.handed_off_at + pd.Timedelta(days=10)})[has]
    # a touch after the handoff that would leak the label if features were not point in time
    late = pd.DataFrame({"person_id": ppl.person_id[y], "touch_type": "demo_request",
                         "occurred_at": ho.handed_off_at[y] + pd.Timedelta(days=2),
                         "source": "events", "source_touch_id": [f"late{i}" for i in ppl.person_id[y]]})
    with engine.begin() as c:
        db.bulk_insert(c, people, ppl)
        db.bulk_insert(c, touches, pd.concat([tch, late], ignore_index=True))
        db.bulk_insert(c, handoffs, ho)
        db.bulk_insert(c, outcomes, oc)
    return {"people": ppl, "touches": tch, "y": y, "p": p, "outcomes": int(has.sum())}
