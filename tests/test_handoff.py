"""The sales queue on SQLite and PostgreSQL: exactly once, accounting, late opt-out, SLA, stickiness."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow import lifecycle
from leadflow.handoff import deliver, queue
from leadflow.handoff import enqueue as queue_mod
from leadflow.handoff import synthetic as syn
from leadflow.store import db
from leadflow.store.schema import accounts, handoffs, lifecycle_events, people, suppressions

D = date(2026, 11, 26)


def config(tmp_path: Path, **routing: Any) -> dict[str, Any]:
    r = {"reps": [{"id": "ann", "name": "Ann", "weight": 2, "capacity_per_day": 100,
                   "timezone": "Europe/Berlin", "email": "ann@sales.test"},
                  {"id": "bob", "name": "Bob", "capacity_per_day": 100, "timezone": "America/New_York",
                   "email": "bob@sales.test"}]}
    r.update(routing)
    return {"paths": {"lists_dir": str(tmp_path / "lists")},
            "qualification": {"min_grade": "B", "min_score": 70, "competitor_domains": ["rival.test"]},
            "routing": r}


def seed(engine: sa.Engine, n: int = 40) -> pd.DataFrame:
    """n people: most qualify; some suppressed for each reason; some below threshold."""
    ids = list(range(1, n + 1))
    ppl = pd.DataFrame({"person_id": ids, "first_name": "Lead", "last_name": [f"N{i}" for i in ids],
                        "country": "US", "company_size": 200, "job_title": "CTO",
                        "account_id": [(i % 10) + 1 for i in ids]})
    ppl.loc[ppl.person_id == 2, "opt_out"] = True
    ppl.loc[ppl.person_id == 3, "do_not_contact"] = True
    ppl.loc[ppl.person_id == 4, "erased_at"] = datetime(2026, 11, 1)
    ppl.loc[ppl.person_id == 5, "email_norm"] = "spy@rival.test"
    ppl.loc[ppl.person_id == 6, "lifecycle_stage"] = "opportunity"
    for c in ("opt_out", "do_not_contact"):
        ppl[c] = ppl[c].fillna(False).astype(bool)
    sc = pd.DataFrame({"person_id": ids, "score": 80.0, "grade": "A",
                       "reasons": [["Senior title", "Visited pricing page"]] * n})
    sc.loc[sc.person_id.isin([7, 8]), "score"] = 40.0          # below threshold
    sc.loc[sc.person_id == 8, "grade"] = "D"
    with engine.begin() as c:
        syn.add_accounts(c, [{"account_id": a, "domain": f"acct{a}.test", "name": f"Acct {a}",
                              "is_customer": a == 10} for a in range(1, 11)])
        syn.add_people(c, ppl)
        syn.add_scores(c, sc, D)
        # 8 is below threshold but asked for a demo: qualifies anyway.
        syn.add_touches(c, pd.DataFrame({"person_id": [8, 11], "touch_type": ["demo_request", "page_view"],
                                         "occurred_at": [datetime(2026, 11, 25, 9), datetime(2026, 11, 24, 9)],
                                         "channel": ["paid_search", "organic"]}))
    return ppl


def count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar())


def per_person_cycle(engine: sa.Engine) -> pd.Series:
    df = db.read_df(engine, sa.select(handoffs.c.person_id, handoffs.c.cycle))
    return df.groupby(["person_id", "cycle"]).size()


def test_every_qualified_lead_is_queued_or_suppressed_with_a_reason(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    ctx = make_ctx(config(tmp_path), engine, D)
    out = queue(ctx)
    h = db.read_df(engine, sa.select(handoffs))
    s = db.read_df(engine, sa.select(suppressions))
    queued, suppressed = set(h["person_id"]), set(s["person_id"])
    # 7 is below threshold and did not raise a hand: not an MQL. Everyone else qualified.
    assert queued | suppressed == set(range(1, 41)) - {7}
    assert not queued & suppressed
    reasons = dict(zip(s["person_id"], s["reason"]))
    assert reasons[2] == "opt_out" and reasons[3] == "do_not_contact" and reasons[4] == "erased"
    assert reasons[5] == "competitor" and reasons[6] == "open_deal"
    assert {reasons[p] for p in (9, 19, 29, 39)} == {"customer"}         # account 10 is a customer
    assert out["mql"] == len(queued) + len(suppressed)
    assert out["handed_off"] == len(queued) and out["suppressed"] == len(suppressed)
    assert sum(out["suppressed_by_reason"].values()) == out["suppressed"]
    assert sum(out["per_rep"].values()) == out["handed_off"]
    assert h.set_index("person_id").loc[8, "qualified_by"] == "hand_raiser"
    # Queued people are MQLs now, with one lifecycle event each; suppressed people did not move.
    stages = db.read_df(engine, sa.select(people.c.person_id, people.c.lifecycle_stage)).set_index("person_id")
    assert (stages.loc[sorted(queued), "lifecycle_stage"] == "mql").all()
    assert stages.loc[2, "lifecycle_stage"] == "lead"
    assert count(engine, lifecycle_events, lifecycle_events.c.to_stage == "mql") == len(queued)
    # Every handoff has a rule, a reason and an SLA; hand-raisers are due sooner.
    assert h["route_reason"].notna().all() and h["sla_due_at"].notna().all()
    due = h.set_index("person_id")["sla_due_at"].map(pd.Timestamp)
    assert due[8] < due.drop(8).min()


def test_rerun_and_retry_leave_exactly_one_handoff_per_person_cycle(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    ctx = make_ctx(config(tmp_path), engine, D)
    first = queue(ctx)
    snap = db.read_df(engine, sa.select(handoffs.c.person_id, handoffs.c.owner_rep, handoffs.c.sla_due_at)
                      .order_by(handoffs.c.person_id))
    again = queue(ctx)                                   # re-run the same day
    retry = queue(make_ctx(config(tmp_path), engine, D, job="retry"))   # a retry under another run id
    assert again["handed_off"] == 0 and retry["handed_off"] == 0
    assert again["already_queued"] == first["handed_off"]
    assert per_person_cycle(engine).max() == 1
    after = db.read_df(engine, sa.select(handoffs.c.person_id, handoffs.c.owner_rep, handoffs.c.sla_due_at)
                       .order_by(handoffs.c.person_id))
    pd.testing.assert_frame_equal(snap, after)
    assert count(engine, lifecycle_events) == first["handed_off"]
    assert count(engine, suppressions) == first["suppressed"]
    # A backfill of the next day adds nothing for people already queued in this cycle.
    nxt = make_ctx(config(tmp_path), engine, date(2026, 11, 27))
    with engine.begin() as c:
        syn.add_scores(c, pd.DataFrame({"person_id": range(1, 41), "score": 90.0, "grade": "A"}),
                       date(2026, 11, 27))
    nxt_out = queue(nxt)
    # only person 7 (below threshold yesterday, 90 today) is new; nobody is queued twice, and
    # the people queued yesterday are not even read again (already_queued counts only the day's
    # own re-runs: the daily queue reads the day's possible MQLs, not every handoff's person)
    assert nxt_out["handed_off"] == 1 and nxt_out["already_queued"] == 0
    assert count(engine, handoffs, handoffs.c.person_id == 7) == 1
    assert per_person_cycle(engine).max() == 1


def test_two_concurrent_runs_never_duplicate(engine, make_ctx, tmp_path) -> None:
    seed(engine, 200)
    ctxs = [make_ctx(config(tmp_path), engine, D, job=f"worker{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = queue(ctxs[i])
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(r, dict) for r in results), results
    assert per_person_cycle(engine).max() == 1
    total = count(engine, handoffs)
    assert results[0]["handed_off"] + results[1]["handed_off"] == total
    assert count(engine, lifecycle_events, lifecycle_events.c.to_stage == "mql") == total
    n_sup = db.read_df(engine, sa.select(suppressions.c.person_id)).person_id.nunique()
    assert count(engine, suppressions) == n_sup


def test_late_opt_out_between_scoring_and_queueing_wins(engine, make_ctx, tmp_path, monkeypatch) -> None:
    seed(engine)
    ctx = make_ctx(config(tmp_path), engine, D)
    original = queue_mod.plan

    def plan_then_opt_out(c):
        df = original(c)
        with engine.begin() as conn:     # the opt-out lands after planning, before the write
            conn.execute(sa.update(people).where(people.c.person_id == 13).values(opt_out=True))
        return df

    monkeypatch.setattr(queue_mod, "plan", plan_then_opt_out)
    out = queue(ctx)
    assert out["late_suppressed"] == 1
    assert count(engine, handoffs, handoffs.c.person_id == 13) == 0
    assert count(engine, suppressions, suppressions.c.person_id == 13, suppressions.c.reason == "opt_out") == 1
    assert db.read_df(engine, sa.select(people.c.lifecycle_stage).where(people.c.person_id == 13)).iloc[0, 0] == "lead"


def test_late_opt_out_after_queueing_never_reaches_lists(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    ctx = make_ctx(config(tmp_path), engine, D)
    queue(ctx)
    with engine.begin() as c:
        c.execute(sa.update(people).where(people.c.person_id == 12).values(opt_out=True))
    out = deliver(ctx)
    assert out["withdrawn_late"] == 1
    text = "".join(Path(p).read_text(encoding="utf-8", errors="ignore") for p in out["paths"]
                   if not p.endswith(".xlsx"))
    assert "N12," not in text and ">N12<" not in text and "Lead N12" not in text
    assert "Lead N11" in text
    assert db.read_df(engine, sa.select(handoffs.c.status).where(handoffs.c.person_id == 12)).iloc[0, 0] == "withdrawn"
    from leadflow.handoff.explain import queue_rows
    assert 12 not in set(queue_rows(engine, limit=1000)["person_id"])


def test_recycled_person_gets_a_new_cycle_handoff(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    old = make_ctx(config(tmp_path), engine, date(2026, 6, 1))
    with engine.begin() as c:
        syn.add_scores(c, pd.DataFrame({"person_id": [11], "score": 85.0, "grade": "A"}), date(2026, 6, 1))
    queue(old)
    with engine.begin() as c:
        lifecycle.transition(c, [11], "recycled", "bad_timing", old)
    out = queue(make_ctx(config(tmp_path), engine, D))         # 178 days later > 90
    assert out["handed_off"] >= 1
    h = db.read_df(engine, sa.select(handoffs.c.cycle).where(handoffs.c.person_id == 11)
                   .order_by(handoffs.c.cycle))
    assert h["cycle"].tolist() == [1, 2]
    p = db.read_df(engine, sa.select(people.c.lifecycle_stage, people.c.cycle).where(people.c.person_id == 11))
    assert p.iloc[0].tolist() == ["mql", 2]


def test_breached_slas_are_flagged_by_later_runs(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    queue(make_ctx(config(tmp_path), engine, D))
    with engine.begin() as c:   # sales acted on person 11 in time
        c.execute(sa.update(handoffs).where(handoffs.c.person_id == 11)
                  .values(first_action_at=datetime(2026, 11, 27, 10)))
        # ... and on person 12 a day after the due time: a late action breaches too
        due = pd.Timestamp(c.execute(sa.select(handoffs.c.sla_due_at).where(handoffs.c.person_id == 12)).scalar())
        c.execute(sa.update(handoffs).where(handoffs.c.person_id == 12)
                  .values(first_action_at=(due + pd.Timedelta(days=1)).to_pydatetime()))
    out = queue(make_ctx(config(tmp_path), engine, date(2026, 12, 10)))
    open_h = count(engine, handoffs, handoffs.c.first_action_at.is_(None))
    assert out["sla_breached"] == open_h + 1
    assert count(engine, handoffs, handoffs.c.sla_breached.is_(True)) == open_h + 1
    assert count(engine, handoffs, handoffs.c.person_id == 11, handoffs.c.sla_breached.is_(True)) == 0
    assert count(engine, handoffs, handoffs.c.person_id == 12, handoffs.c.sla_breached.is_(True)) == 1
    # flagged once: a later run flags nothing again
    assert queue(make_ctx(config(tmp_path), engine, date(2026, 12, 11)))["sla_breached"] == 0


def test_only_hand_raisers_to_hand_off_are_rescored_on_a_day_without_their_score(engine, make_ctx,
                                                                                 tmp_path) -> None:
    """A hand-raiser the daily step did not rescore gets today's score before the handoff; a
    suppressed one (opted out, a customer: as many as the warehouse holds) is not rescored
    every day for nothing, since a hand-raiser qualifies whatever the score."""
    from leadflow.store.schema import scores
    seed(engine)
    queue(make_ctx(config(tmp_path), engine, D))
    d2 = date(2026, 11, 27)
    with engine.begin() as c:      # 7 (never an MQL) and 2 (opted out) ask for a demo on day 2
        syn.add_touches(c, pd.DataFrame({"person_id": [7, 2], "touch_type": "demo_request",
                                         "occurred_at": datetime(2026, 11, 27, 8), "channel": "organic"}))
    out = queue(make_ctx(config(tmp_path), engine, d2))
    assert out["handed_off"] == 1 and out["suppressed_by_reason"] == {"opt_out": 1}
    h = db.read_df(engine, sa.select(handoffs).where(handoffs.c.run_date == d2))
    assert h["person_id"].tolist() == [7] and h["score"].notna().all()
    day2 = db.read_df(engine, sa.select(scores.c.person_id).where(scores.c.score_date == d2))
    assert day2["person_id"].tolist() == [7]


def test_first_handoff_makes_account_ownership_sticky(engine, make_ctx, tmp_path) -> None:
    seed(engine)
    with engine.begin() as c:
        c.execute(sa.update(accounts).where(accounts.c.account_id == 2).values(owner_rep="bob"))
    queue(make_ctx(config(tmp_path), engine, D))
    h = db.read_df(engine, sa.select(handoffs.c.person_id, handoffs.c.owner_rep, handoffs.c.route_rule))
    ppl = db.read_df(engine, sa.select(people.c.person_id, people.c.account_id))
    m = h.merge(ppl, on="person_id")
    assert set(m.loc[m.account_id == 2, "owner_rep"]) == {"bob"}
    assert set(m.loc[m.account_id == 2, "route_rule"]) == {"account_owner"}
    # colleagues of one account stay together and the account now has that owner
    acc = db.read_df(engine, sa.select(accounts.c.account_id, accounts.c.owner_rep)).set_index("account_id")
    for a, g in m[m.account_id != 2].groupby("account_id"):
        assert g["owner_rep"].nunique() == 1
        assert acc.loc[a, "owner_rep"] == g["owner_rep"].iloc[0]


def test_nothing_to_do_is_fine_and_all_suppressed_routes_nobody(engine, make_ctx, tmp_path) -> None:
    ctx = make_ctx(config(tmp_path), engine, D)
    out = queue(ctx)
    assert out["candidates"] == 0 and out["handed_off"] == 0
    assert deliver(ctx)["files"] == 0
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [1, 2], "opt_out": [True, True]}))
        syn.add_scores(c, pd.DataFrame({"person_id": [1, 2], "score": 99.0, "grade": "A"}), D)
    out = queue(ctx)
    assert out["handed_off"] == 0 and out["suppressed_by_reason"] == {"opt_out": 2}
    assert count(engine, handoffs) == 0


def test_reasons_are_computed_for_handed_off_people_only_and_match_the_everyone_path(
        tmp_path, db_url, monkeypatch) -> None:
    """Scoring stores no reasons; the queue fills them for the people it hands off, and they are
    exactly what computing reasons for every scored person (the old daily path) gave them."""
    import numpy as np

    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.handoff.explain import explain
    from leadflow.score import step
    from leadflow.store.schema import scores
    from tests.conftest import demo_config

    settings = cfg.load(demo_config(tmp_path, db_url, monkeypatch))
    demo.generate(tmp_path / "data", leads=600, seed=3, days=3, end_date=D)
    ctx = RunContext(settings, db.engine(db_url), D, make_run_id("test", D), "test")
    everyone: dict[int, Any] = {}
    real = step.score_frame

    def both_ways(people, touches, settings, as_of, bundle=None, reasons=True):
        out = real(people, touches, settings, as_of, bundle, reasons)
        if not reasons:   # the daily step: also compute reasons for everyone, as it used to
            full = real(people, touches, settings, as_of, bundle, True)
            everyone.update(zip(full["person_id"].astype(int), full["reasons"]))
            assert np.allclose(full["score"], out["score"]) and full["grade"].equals(out["grade"])
        return out

    monkeypatch.setattr(step, "score_frame", both_ways)
    res = pipeline.run_daily(ctx)
    assert res["queue"]["handed_off"] > 0 and everyone
    s = db.read_df(ctx.engine, sa.select(scores.c.person_id, scores.c.reasons)
                   .where(scores.c.score_date == D).order_by(scores.c.person_id))
    handed = set(db.read_df(ctx.engine, sa.select(handoffs.c.person_id)
                            .where(handoffs.c.run_date == D))["person_id"].astype(int))
    with_reasons = s[s["reasons"].notna()]
    assert set(with_reasons["person_id"].astype(int)) == handed        # nobody else gets reasons
    assert len(s) > len(handed)                                        # others were scored
    for pid, rs in zip(with_reasons["person_id"].astype(int), with_reasons["reasons"]):
        assert rs == everyone[pid], pid
    # explain computes them on demand where a score has none stored
    pid = int(with_reasons["person_id"].iloc[0])
    with ctx.engine.begin() as c:
        c.execute(sa.update(scores).where(scores.c.person_id == pid).values(reasons=sa.null()))
    assert explain(ctx.engine, pid, settings)["score"]["reasons"] == everyone[pid]
