"""The daily scoring step scores the day's due people, and that loses nothing (issue 17).

The reference is the old behaviour: every active person scored every day. On a warehouse whose
people keep getting new touches (positive and negative points) and attribute changes, each
incremental day must contain every person the full rescoring would find qualifying, with the
same figures, while scoring far fewer people.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.config import Settings
from leadflow.handoff import synthetic as syn
from leadflow.score import due, step, warehouse
from leadflow.store import db
from leadflow.store.schema import people, score_runs, score_watch, scores, touches
from tests import score_helpers as H
from tests.plans import plans_of

DAY0 = date(2026, 11, 20)
QUAL = {"min_grade": "C", "min_score": 45}
FIGURES = ["fit_points", "grade", "engagement_points", "score"]


def _config(**qual) -> dict:
    doc = H.config()
    doc["scoring"] = {**H.SCORING, "engagement": {**H.SCORING["engagement"]}}
    doc["qualification"] = {**QUAL, **qual}
    return doc


def _warehouse(engine: sa.Engine, n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ppl = H.people_frame(n, datetime(2026, 8, 1), rng)
    tch = H.touches_frame(ppl, rng)
    with engine.begin() as c:
        db.bulk_insert(c, people, ppl)
        db.bulk_insert(c, touches, tch)
    return ppl


def _full_reference(ctx) -> pd.DataFrame:
    """What scoring every active person on this day gives (the behaviour before issue 17)."""
    ppl = warehouse.read_people(ctx.engine, active_as_of=ctx.as_of)
    tch = warehouse.read_touches(ctx.engine, ctx.as_of)
    return step.score_frame(ppl, tch, ctx.settings, ctx.as_of, None, reasons=False).set_index("person_id")


def _day_rows(engine: sa.Engine, d: date) -> pd.DataFrame:
    df = db.read_df(engine, sa.select(scores).where(scores.c.score_date == d))
    return df.set_index("person_id").sort_index()


def _worth(df: pd.DataFrame, settings: Settings) -> pd.Index:
    rank = {"A": 0, "B": 1, "C": 2, "D": 3}
    q = settings.qualification
    ok = (df["grade"].map(rank) <= rank[q.min_grade]) & (df["score"] >= q.min_score)
    return df.index[ok.to_numpy()]


def _change_some(engine: sa.Engine, ctx, rng: np.random.Generator, day: int) -> None:
    """New touches (some negative) for a few people and an attribute change for a few others."""
    ids = db.read_df(engine, sa.select(people.c.person_id))["person_id"].to_numpy()
    who = rng.choice(ids, 12, replace=False)
    types = rng.choice(["demo_request", "pricing_page", "email_click", "unsubscribe"], len(who))
    occ = pd.Timestamp(ctx.as_of) - pd.to_timedelta(rng.integers(1, 20 * 60, len(who)), unit="min")
    new = pd.DataFrame({"person_id": who, "touch_type": types, "occurred_at": occ, "source": "events",
                        "source_touch_id": [f"d{day}-{i}" for i in range(len(who))]})
    # delivered late: dated before the previous run, so only its new touch id shows it
    tardy = rng.choice(np.setdiff1d(ids, who), 8, replace=False)
    late = pd.DataFrame({"person_id": tardy, "touch_type": "demo_request", "source": "events",
                         "occurred_at": pd.Timestamp(ctx.as_of) - pd.Timedelta(days=1, hours=6),
                         "source_touch_id": [f"late{day}-{i}" for i in range(len(tardy))]})
    moved = [int(i) for i in rng.choice(np.setdiff1d(ids, np.r_[who, tardy]), 5, replace=False)]
    with engine.begin() as c:
        db.bulk_insert(c, touches, pd.concat([new, late], ignore_index=True))
        c.execute(sa.update(people).where(people.c.person_id.in_(moved))
                  .values(seniority="c_level", updated_at=ctx.as_of))


def test_each_day_scores_everyone_the_full_rescoring_would_qualify_with_the_same_figures(engine, make_ctx) -> None:
    ppl = _warehouse(engine)
    rng = np.random.default_rng(7)
    worth_total, scored_total = 0, 0
    for k in range(6):
        ctx = make_ctx(_config(), engine, DAY0 + timedelta(days=k))
        if k:
            _change_some(engine, ctx, rng, k)
        ref = _full_reference(ctx)
        res = step.score_people(ctx)
        assert res["mode"] == ("full" if k == 0 else "incremental")
        got = _day_rows(engine, ctx.run_date)
        worth = _worth(ref, ctx.settings)
        missing = worth.difference(got.index)
        assert missing.empty, f"day {k}: {len(missing)} people the full rescoring qualifies were not scored"
        pd.testing.assert_frame_equal(got[FIGURES], ref.loc[got.index, FIGURES], check_dtype=False)
        if k:
            worth_total += len(worth)
            scored_total += len(got)
    assert worth_total > 20                      # the comparison had qualifying people to find
    assert scored_total < 6 * len(ppl) / 4       # and the incremental days scored far fewer


def test_a_changed_meaning_of_the_score_rescores_everyone_once(engine, make_ctx) -> None:
    _warehouse(engine, n=150)
    step.score_people(make_ctx(_config(), engine, DAY0))
    same = step.score_people(make_ctx(_config(), engine, DAY0 + timedelta(days=1)))
    ctx = make_ctx(_config(min_score=40), engine, DAY0 + timedelta(days=2))
    active = len(_full_reference(ctx))
    moved = step.score_people(ctx)
    again = step.score_people(make_ctx(_config(min_score=40), engine, DAY0 + timedelta(days=3)))
    assert (same["mode"], moved["mode"], again["mode"]) == ("incremental", "full", "incremental")
    assert moved["scored"] == active > same["scored"]


def test_rerunning_a_day_changes_nothing(engine, make_ctx) -> None:
    _warehouse(engine, n=150)
    step.score_people(make_ctx(_config(), engine, DAY0))
    ctx = make_ctx(_config(), engine, DAY0 + timedelta(days=1))
    _change_some(engine, ctx, np.random.default_rng(1), 1)
    first = step.score_people(ctx)
    def snap(t: sa.Table) -> pd.DataFrame:
        df = db.read_df(engine, sa.select(t)).sort_values(list(t.primary_key.columns.keys()), ignore_index=True)
        return df.drop(columns="run_id", errors="ignore")

    before = [snap(t) for t in (scores, score_watch, score_runs)]
    second = step.score_people(make_ctx(_config(), engine, DAY0 + timedelta(days=1)))
    assert first["scored"] == second["scored"] and first["mode"] == second["mode"] == "incremental"
    for a, b in zip(before, [snap(t) for t in (scores, score_watch, score_runs)]):
        pd.testing.assert_frame_equal(a, b)


def test_the_ceiling_bounds_every_later_score_without_new_touches(make_ctx, engine) -> None:
    """Adversarial: strong negative points that fade, caps, touches of every age; the rule
    score at any later moment never exceeds the ceiling computed now. (A touch dated after now
    is new input when it becomes visible: ``due_ids`` makes its person due by ``occurred_at``.)"""
    rng = np.random.default_rng(11)
    ctx = make_ctx(_config(), engine, DAY0)
    ppl = H.people_frame(300, datetime(2026, 9, 1), rng)
    tch = H.touches_frame(ppl, rng)
    neg = pd.DataFrame({"person_id": rng.choice(ppl["person_id"], 200), "touch_type": "unsubscribe",
                        "occurred_at": pd.Timestamp(ctx.as_of) - pd.to_timedelta(rng.integers(0, 90, 200), unit="D")})
    tch = pd.concat([tch, neg], ignore_index=True)
    tch = tch[pd.to_datetime(tch["occurred_at"]) <= pd.Timestamp(ctx.as_of)]   # later ones are new input
    now = step.score_frame(ppl, tch, ctx.settings, ctx.as_of, None, reasons=False)
    assert (now["score"] <= now["ceiling"] + 1e-9).all()
    for days in (1, 7, 30, 200):
        later = step.score_frame(ppl, tch, ctx.settings, ctx.as_of + timedelta(days=days), None, reasons=False)
        assert (later["score"].to_numpy() <= now["ceiling"].to_numpy() + 1e-9).all()
    assert (now["ceiling"] > now["score"]).any()        # the negative points made a difference


def test_step_decay_that_rises_with_age_watches_everyone(make_ctx, engine) -> None:
    doc = _config()
    doc["scoring"].update(decay="step", decay_steps=[{"max_age_days": 7, "factor": 0.5},
                                                     {"max_age_days": 30, "factor": 1.0}])
    ctx = make_ctx(doc, engine, DAY0)
    econ = pd.DataFrame({"row": [0], "points": [10.0]})
    assert np.isinf(due.ceiling(np.array([0.0, 5.0]), econ, 2, ctx.settings)).all()


@pytest.mark.parametrize("stage, flag, watched", [("lead", None, True), ("recycled", None, True),
                                                   ("mql", None, False), ("lead", "opt_out", False),
                                                   ("lead", "is_competitor", False)])
def test_only_people_open_to_marketing_are_watched(stage: str, flag: str | None, watched: bool) -> None:
    ppl = pd.DataFrame({"lifecycle_stage": [stage], "opt_out": [flag == "opt_out"],
                        "do_not_contact": [False], "is_competitor": [flag == "is_competitor"]})
    assert bool(due.open_to_marketing(ppl)[0]) is watched


def test_a_candidate_without_a_score_today_gets_the_score_the_step_would_give(engine, make_ctx) -> None:
    _warehouse(engine, n=60)
    ctx = make_ctx(_config(), engine, DAY0)
    with engine.begin() as c:
        c.execute(sa.update(people).where(people.c.person_id == 2).values(lifecycle_stage="customer"))
    ref = _full_reference(ctx)
    got = step.score_missing(ctx, [1, 2, 3])
    assert sorted(got["person_id"].tolist()) == [1, 3]           # the customer is not scored
    rows = _day_rows(engine, DAY0)
    pd.testing.assert_frame_equal(rows[FIGURES], ref.loc[rows.index, FIGURES], check_dtype=False)
    assert step.score_missing(ctx, [1, 3]).empty                  # already scored today: nothing written



def test_a_run_for_an_earlier_date_makes_the_next_run_score_everyone(engine, make_ctx) -> None:
    """Out-of-order dates: a backfill's changes carry its own (older) logical time and its watch
    verdicts see only the touches up to its date, so the run after it cannot trust either and
    scores everyone once; the backfill itself is scored as of its own date."""
    _warehouse(engine, n=150)
    for k in (0, 1, 2):
        step.score_people(make_ctx(_config(), engine, DAY0 + timedelta(days=k)))
    back = make_ctx(_config(), engine, DAY0 + timedelta(days=1))        # day 1 again, after day 2
    with engine.begin() as c:        # the backfill's load changed someone, at its own logical time
        c.execute(sa.update(people).where(people.c.person_id == 3)
                  .values(seniority="c_level", updated_at=back.as_of))
    assert step.score_people(back)["mode"] == "incremental"
    nxt = make_ctx(_config(), engine, DAY0 + timedelta(days=3))
    ref = _full_reference(nxt)
    res = step.score_people(nxt)
    assert res["mode"] == "full" and res["scored"] == len(ref)
    after = step.score_people(make_ctx(_config(), engine, DAY0 + timedelta(days=4)))
    assert after["mode"] == "incremental"                           # once only


def _scans_of_people_without_a_key(engine: sa.Engine, run: Any) -> list[str]:
    """PostgreSQL's plans of the statements ``run(conn)`` sends that scan ``people`` looking up
    no key (a sequential scan, or an index walked whole with a filter)."""
    import re
    with engine.begin() as c:
        plans = plans_of(c, run)
    bad = []
    for plan in plans:
        for i, line in enumerate(plan):
            if not re.search(r"Scan .*\bon people\b", line):
                continue
            rest = plan[i + 1:]
            detail = rest[:next((k for k, nxt in enumerate(rest) if "->" in nxt), len(rest))]
            if "Seq Scan" in line or not any("Index Cond" in d or "Recheck Cond" in d for d in detail):
                bad.append("\n".join(plan))
                break
    return bad


def test_the_watch_list_is_read_person_by_person_however_stale_the_statistics(engine, make_ctx) -> None:
    """The watch list changes every run; joined with ``people`` as a set, PostgreSQL planned by
    its size at the last ANALYZE (16,014 rows where 295 stood at 442k people, 2 of 3 runs of
    the growth bench) and walked every person, in ``due_ids`` and in ``update_watch`` alike.
    Each watched person is now looked up by id."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner case: SQLite looks each watched person up by id anyway")
    n = 30000
    ids = list(range(1, n + 1))
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": ids,
                                        "lifecycle_stage": ["mql" if i % 10 == 0 else "lead" for i in ids]}))
        db.bulk_insert(c, score_watch, pd.DataFrame({"person_id": ids[:12000], "score_date": DAY0,
                                                     "ceiling": 80.0, "probability": None}))
        db.analyze(c)
        c.execute(sa.delete(score_watch).where(score_watch.c.person_id > 60))    # stats still say 12,000
    prev = due.PreviousRun(DAY0, datetime(2026, 11, 20, 23, 59, 59), 0, "x")
    with engine.connect() as c:
        got = due.due_ids(c, prev, datetime(2026, 11, 21, 23, 59, 59))
    assert got == [i for i in range(1, 61) if i % 10]           # watched and in marketing stages
    assert not _scans_of_people_without_a_key(
        engine, lambda c: due.due_ids(c, prev, datetime(2026, 11, 21, 23, 59, 59)))
    assert not _scans_of_people_without_a_key(
        engine, lambda c: due.update_watch(c, DAY0 + timedelta(days=1), [1, 2], pd.DataFrame()))
    with engine.connect() as c:
        left = sorted(db.read_df(c, sa.select(score_watch.c.person_id))["person_id"])
    assert left == [i for i in range(3, 61) if i % 10]         # the handed-off and the considered left
