"""The sql/ marts equal an independent pandas computation, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.canonical import SELLING_STEPS
from leadflow.report import marts, synthetic
from leadflow.store import db

START = date(2026, 9, 7)
# A window that cuts the data: people created after END are out, events after AS_OF unknown.
END = date(2026, 10, 18)
AS_OF = datetime(2026, 10, 31, 23, 59, 59)
RANK = {"lead": 1, "mql": 2, "sal": 3, "sql": 4, "opportunity": 5, "customer": 6}
STEP_RANK = {s: i + 1 for i, s in enumerate(SELLING_STEPS)}


@pytest.fixture
def seeded(engine: sa.Engine):
    frames = synthetic.seed(engine, n_people=700, seed=11, start=START, days=56)
    w = marts.Window(START, END, AS_OF)
    return frames, marts.run(engine, w), w


def _cohort(frames: dict, w: marts.Window) -> pd.DataFrame:
    p = frames["people"].copy()
    p["created_at"] = pd.to_datetime(p["created_at"])
    p = p[(p["created_at"] >= pd.Timestamp(w.params["start_ts"]))
          & (p["created_at"] < pd.Timestamp(w.params["end_ts"]))]
    day = p["created_at"].dt.normalize()
    p["cohort_week"] = (day - pd.to_timedelta(day.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")
    for c in ("first_campaign_id", "first_channel"):
        p[c] = p[c].fillna("(none)")
    return p.rename(columns={"first_campaign_id": "campaign_id", "first_channel": "channel",
                             "first_source": "source"})


def _expected_funnel(frames: dict, w: marts.Window) -> pd.DataFrame:
    p = _cohort(frames, w)
    ev = frames["lifecycle_events"]
    ev = ev[pd.to_datetime(ev["occurred_at"]) <= pd.Timestamp(w.as_of)]
    rank = ev.assign(r=ev["to_stage"].map(RANK).fillna(0)).groupby("person_id")["r"].max()
    p["r"] = np.maximum(p["person_id"].map(rank).fillna(0), 1)
    p["recycled"] = p["person_id"].isin(ev.loc[ev["to_stage"] == "recycled", "person_id"]).astype(int)
    p["disqualified"] = p["person_id"].isin(ev.loc[ev["to_stage"] == "disqualified", "person_id"]).astype(int)
    o = frames["outcomes"]
    o = o[pd.to_datetime(o["occurred_at"]) <= pd.Timestamp(w.as_of)]
    step = o.assign(s=o["selling_step"].map(STEP_RANK).fillna(0)).groupby("person_id")["s"].max()
    p["max_step"] = p["person_id"].map(step).fillna(0)
    p["rejected"] = p["person_id"].isin(o.loc[o["status"] == "rejected", "person_id"]).astype(int)
    p["won_revenue"] = p["person_id"].map(o[o["status"] == "won"].groupby("person_id")["amount"].sum()).fillna(0)
    h = frames["handoffs"]
    p["handed_off"] = p["person_id"].isin(h.loc[pd.to_datetime(h["handed_off_at"]) <= pd.Timestamp(w.as_of),
                                                "person_id"]).astype(int)
    for name, k in (("leads", 1), ("mqls", 2), ("sals", 3), ("sqls", 4), ("opportunities", 5), ("customers", 6)):
        p[name] = (p["r"] >= k).astype(int)
    for s, k in STEP_RANK.items():
        p[f"step_{s}"] = ((p["max_step"] >= k) & (p["r"] >= RANK["sal"])).astype(int)
    # seen on its own: the furthest stage, or entered strictly before every later stage
    first = ev.pivot_table(index="person_id", columns="to_stage", values="occurred_at", aggfunc="min")
    order = ["mql", "sal", "sql", "opportunity", "customer"]
    first = first.reindex(columns=order).apply(pd.to_datetime).reindex(p["person_id"])
    for i, (stage, name) in enumerate(zip(order[:-1], ("mqls_seen", "sals_seen", "sqls_seen",
                                                       "opportunities_seen"))):
        t = first[stage]
        alone = t.notna()
        for later in order[i + 1:]:
            alone &= first[later].isna() | (first[later] > t)
        k = RANK[stage]
        p[name] = ((p["r"] == k) | ((p["r"] > k) & alone.to_numpy())).astype(int)
    keys = ["campaign_id", "channel", "source", "cohort_week"]
    cols = ["leads", "mqls", "handed_off", "sals", "sqls", "opportunities", "customers", "recycled",
            "disqualified", "rejected", *[f"step_{s}" for s in SELLING_STEPS], "won_revenue",
            "mqls_seen", "sals_seen", "sqls_seen", "opportunities_seen"]
    g = p.groupby(keys)
    out = g[cols].sum()
    out.insert(0, "people", g.size())
    return out.reset_index().sort_values(keys).reset_index(drop=True)


def test_funnel_equals_pandas(seeded) -> None:
    frames, m, w = seeded
    got = m["funnel"].sort_values(["campaign_id", "channel", "source", "cohort_week"]).reset_index(drop=True)
    exp = _expected_funnel(frames, w)
    assert len(got) == len(exp) > 20
    for c in exp.columns:
        if c == "won_revenue":
            np.testing.assert_allclose(got[c].astype(float), exp[c].astype(float), rtol=1e-9, atol=1e-6)
        else:
            assert got[c].astype(str).tolist() == exp[c].astype(str).tolist(), c
    # the cut matters: some people were created after the window, some events after as_of
    assert exp["people"].sum() < len(frames["people"])
    # conversion between consecutive stages
    ok = got["leads"] > 0
    np.testing.assert_allclose(got.loc[ok, "mql_rate"], got.loc[ok, "mqls"] / got.loc[ok, "leads"])
    assert got.loc[got["opportunities"] == 0, "win_rate"].isna().all()


def test_rollups_recompute_rates(seeded) -> None:
    _, m, _ = seeded
    by = marts.rollup(m["funnel"], "channel")
    assert by["leads"].sum() == m["funnel"]["leads"].sum()
    r = by.iloc[0]
    assert r["sal_rate"] == pytest.approx(r["sals"] / r["mqls"])
    assert r["rate_pre_approach"] == pytest.approx(r["step_pre_approach"] / r["step_prospecting"])
    assert (by[[f"step_{s}" for s in SELLING_STEPS]].diff(axis=1).iloc[:, 1:] <= 0).all().all()


def test_campaign_performance_equals_pandas(seeded) -> None:
    frames, m, w = seeded
    exp_f = _expected_funnel(frames, w).groupby("campaign_id")[["leads", "mqls", "opportunities", "customers",
                                                                  "won_revenue"]].sum()
    s = frames["campaign_spend"]
    s = s[(pd.to_datetime(s["spend_date"]) >= pd.Timestamp(w.start))
          & (pd.to_datetime(s["spend_date"]) <= pd.Timestamp(w.end))]
    spend = s.groupby("campaign_id")["amount"].sum()
    got = m["campaign_performance"].set_index("campaign_id")
    assert set(got.index) == set(exp_f.index) | set(spend.index)
    for cid, row in got.iterrows():
        e = exp_f.loc[cid] if cid in exp_f.index else pd.Series(0, index=exp_f.columns)
        assert row["leads"] == e["leads"] and row["customers"] == e["customers"], cid
        assert row["revenue"] == pytest.approx(e["won_revenue"])
        assert row["spend"] == pytest.approx(spend.get(cid, 0.0))
        if e["mqls"]:
            assert row["cost_per_mql"] == pytest.approx(spend.get(cid, 0.0) / e["mqls"])
        if spend.get(cid, 0.0):
            assert row["roi"] == pytest.approx((e["won_revenue"] - spend[cid]) / spend[cid])


def test_sla_and_speed_to_lead_equal_pandas(seeded) -> None:
    frames, m, w = seeded
    h = frames["handoffs"].copy()
    for c in ("handed_off_at", "sla_due_at", "first_action_at"):
        h[c] = pd.to_datetime(h[c])
    h = h[(h["handed_off_at"] >= pd.Timestamp(w.params["start_ts"]))
          & (h["handed_off_at"] < pd.Timestamp(w.params["end_ts"]))]
    fa = h["first_action_at"].where(h["first_action_at"] <= pd.Timestamp(w.as_of))
    within = (fa <= h["sla_due_at"]).sum()
    breached = ((fa > h["sla_due_at"]) | (fa.isna() & (h["sla_due_at"] < pd.Timestamp(w.as_of)))).sum()
    sla = m["sla_compliance"]
    assert sla["handoffs"].sum() == len(h) > 0
    assert sla["within_sla"].sum() == within and sla["breached"].sum() == breached
    assert sla["within_sla"].sum() + sla["breached"].sum() + sla["pending"].sum() + sla["no_sla"].sum() == len(h)
    got = marts.speed_summary(m["speed_to_lead"], "owner_rep").set_index("owner_rep")
    hours = ((fa - h["handed_off_at"]).dt.total_seconds() / 3600).groupby(h["owner_rep"]).median()
    for rep, v in hours.items():
        assert got.loc[rep, "median_hours"] == pytest.approx(v)


def test_rejection_reasons_equal_pandas(seeded) -> None:
    frames, m, w = seeded
    o = frames["outcomes"]
    t = pd.to_datetime(o["occurred_at"])
    o = o[(o["status"] == "rejected") & (t >= pd.Timestamp(w.params["start_ts"]))
          & (t < pd.Timestamp(w.params["end_ts"]))]
    got = m["rejection_reasons"].groupby("reason_code")["rejections"].sum().sort_index()
    exp = o["reason_code"].fillna("(none)").value_counts().sort_index()
    assert got.to_dict() == exp.to_dict()
    np.testing.assert_allclose(m["rejection_reasons"].groupby("channel")["share_of_channel"].sum(), 1.0)


def test_stage_times_and_medians(seeded) -> None:
    frames, m, w = seeded
    st = m["stage_times"]
    cohort = _cohort(frames, w)
    life = st[st["kind"] == "lifecycle"]
    ev = frames["lifecycle_events"]
    ev = ev[ev["person_id"].isin(cohort["person_id"]) & (pd.to_datetime(ev["occurred_at"]) <= pd.Timestamp(w.as_of))]
    assert len(life) == len(cohort) + len(ev)
    d = marts.stage_durations(st)
    mql = life[life["stage"] == "mql"]
    exp = ((mql["left_at"] - mql["entered_at"]).dt.total_seconds() / 86400).median()
    got = d[(d["kind"] == "lifecycle") & (d["stage"] == "mql")]["median_days"].iloc[0]
    assert got == pytest.approx(exp)
    # a stay ends where the next stage begins
    nxt = life.sort_values(["person_id", "entered_at"]).groupby("person_id")["entered_at"].shift(-1)
    assert (life.sort_values(["person_id", "entered_at"])["left_at"].fillna(pd.Timestamp(0))
            == nxt.fillna(pd.Timestamp(0))).all()


def test_window_for_defaults_to_first_person(engine) -> None:
    synthetic.seed(engine, n_people=50, seed=3, start=START, days=10)
    w = marts.window_for(engine, date(2026, 9, 30))
    assert START <= w.start <= START + timedelta(days=1) and w.end == date(2026, 9, 30)
    assert w.as_of == datetime(2026, 9, 30, 23, 59, 59)


def test_landing_pages_from_the_first_lead_record_else_the_first_touch(engine) -> None:
    from leadflow.store.schema import ingest_batches, person_records, stg_inbound_leads
    t = pd.Timestamp("2026-09-08 09:00")
    ppl = pd.DataFrame({"person_id": [1, 2, 3, 4], "email_norm": None, "created_at": t, "updated_at": t,
                        "cycle": 1, "opt_out": False, "do_not_contact": False, "is_competitor": False,
                        "lifecycle_stage": "lead", "first_source": "web"})
    with engine.begin() as c:
        db.bulk_insert(c, synthetic.TABLES["people"], ppl)
        bid = c.execute(ingest_batches.insert().values(
            source="web", kind="inbound_leads", uri="x", content_hash="h", rows_in=3, rows_landed=3,
            status="landed", loaded_at=t.to_pydatetime())).inserted_primary_key[0]
        db.bulk_insert(c, stg_inbound_leads, pd.DataFrame({
            "source": "web", "batch_id": bid, "row_number": [1, 2, 3], "loaded_at": t, "state": "loaded",
            "landing_url": ["https://x.test/a?utm_source=g", "https://x.test/c#top", "https://x.test/a"]}))
        db.bulk_insert(c, person_records, pd.DataFrame({
            "batch_id": bid, "row_number": [1, 2, 3], "source": "web", "person_id": [1, 4, 4],
            "match_rule": "new", "created_at": [t, t, t + pd.Timedelta(hours=1)]}))
        db.bulk_insert(c, synthetic.TABLES["touches"], pd.DataFrame({
            "source": "web", "source_touch_id": ["t1", "t2"], "person_id": [1, 2], "touch_type": "page_view",
            "occurred_at": t, "url": ["https://x.test/b", "https://x.test/b?gclid=123"]}))
    w = marts.Window(date(2026, 9, 7), date(2026, 9, 30), datetime(2026, 10, 1))
    lp = marts.landing_pages(marts.run(engine, w, ["landing_urls"])["landing_urls"])
    got = dict(zip(lp["landing_page"], lp["leads"]))
    assert got == {"https://x.test/a": 1, "https://x.test/b": 1, "https://x.test/c": 1, "(unknown)": 1}
