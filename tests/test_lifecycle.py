"""The lifecycle state machine on SQLite and PostgreSQL: legal moves, illegal ones, new cycles."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow import lifecycle
from leadflow.handoff import synthetic as syn
from leadflow.store import db
from leadflow.store.schema import lifecycle_events, people


def _seed(engine: sa.Engine, stages: dict[int, str]) -> None:
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": list(stages), "lifecycle_stage": list(stages.values()),
                                        "first_name": "Secret", "email_norm": [f"x{i}@pii.test" for i in stages]}))


def _people(engine: sa.Engine) -> pd.DataFrame:
    return db.read_df(engine, sa.select(people.c.person_id, people.c.lifecycle_stage, people.c.cycle)
                      .order_by(people.c.person_id)).set_index("person_id")


def _events(engine: sa.Engine) -> pd.DataFrame:
    return db.read_df(engine, sa.select(lifecycle_events).order_by(lifecycle_events.c.event_id))


def test_legal_table() -> None:
    assert lifecycle.is_legal("lead", "mql")
    assert lifecycle.is_legal("mql", "opportunity")          # CRM may report a later step directly
    assert lifecycle.is_legal("sql", "recycled")
    assert lifecycle.is_legal("recycled", "mql")
    assert lifecycle.is_legal("mql", "mql")                  # no-op
    assert not lifecycle.is_legal("sql", "mql")              # never backward
    assert not lifecycle.is_legal("customer", "recycled")    # terminal
    assert not lifecycle.is_legal("disqualified", "mql")
    assert lifecycle.is_legal("lead", "recycled")
    assert lifecycle.starts_new_cycle("recycled", "mql")
    assert not lifecycle.starts_new_cycle("recycled", "disqualified")


def test_transition_moves_and_records_events(engine: sa.Engine, make_ctx) -> None:
    _seed(engine, {1: "lead", 2: "suspect", 3: "mql"})
    ctx = make_ctx({}, engine, date(2026, 11, 26))
    with engine.begin() as c:
        out = lifecycle.transition(c, [1, 2, 3], "mql", "threshold", ctx)
    assert out == {"moved": 2, "unchanged": 1, "new_cycle": 0, "raced": 0}
    assert _people(engine)["lifecycle_stage"].tolist() == ["mql", "mql", "mql"]
    ev = _events(engine)
    assert sorted(ev["person_id"]) == [1, 2]
    assert set(ev["from_stage"]) == {"lead", "suspect"} and set(ev["to_stage"]) == {"mql"}
    assert set(ev["run_id"]) == {ctx.run_id} and set(ev["reason"]) == {"threshold"}
    assert pd.to_datetime(ev["occurred_at"]).eq(pd.Timestamp(ctx.as_of)).all()
    # Re-running the same transition changes nothing.
    with engine.begin() as c:
        again = lifecycle.transition(c, [1, 2, 3], "mql", "threshold", ctx)
    assert again["moved"] == 0 and again["unchanged"] == 3
    assert len(_events(engine)) == 2


def test_illegal_transition_rejects_whole_batch_without_pii(engine: sa.Engine, make_ctx) -> None:
    _seed(engine, {1: "lead", 2: "sql", 3: "customer"})
    ctx = make_ctx({}, engine)
    with engine.begin() as c, pytest.raises(lifecycle.LifecycleError) as e:
        lifecycle.transition(c, [1, 2, 3], "mql", "threshold", ctx)
    msg = str(e.value)
    assert "sql -> mql" in msg and "customer -> mql" in msg and "2" in msg and "3" in msg
    assert "pii.test" not in msg and "Secret" not in msg
    assert _people(engine).loc[1, "lifecycle_stage"] == "lead"      # nothing written
    assert _events(engine).empty


def test_unknown_people_and_stage_are_errors(engine: sa.Engine, make_ctx) -> None:
    _seed(engine, {1: "lead"})
    ctx = make_ctx({}, engine)
    with engine.begin() as c:
        with pytest.raises(lifecycle.LifecycleError, match="unknown person id"):
            lifecycle.transition(c, [1, 99], "mql", "x", ctx)
        with pytest.raises(lifecycle.LifecycleError, match="unknown stage"):
            lifecycle.transition(c, [1], "hot", "x", ctx)


def test_recycled_requalifies_as_a_new_cycle(engine: sa.Engine, make_ctx) -> None:
    _seed(engine, {1: "lead"})
    d1, d2 = date(2026, 6, 1), date(2026, 11, 26)
    c1, c2 = make_ctx({}, engine, d1), make_ctx({}, engine, d2)
    with engine.begin() as c:
        lifecycle.transition(c, [1], "mql", "threshold", c1)
        lifecycle.transition(c, [1], "sal", "accepted", c1)
        lifecycle.transition(c, [1], "recycled", "bad_timing", c1)
    with engine.begin() as c:
        out = lifecycle.transition(c, [1], "mql", "hand_raiser", c2)
    assert out["new_cycle"] == 1
    p = _people(engine)
    assert p.loc[1, "lifecycle_stage"] == "mql" and p.loc[1, "cycle"] == 2
    ev = _events(engine)
    assert ev[["cycle", "to_stage"]].values.tolist() == [[1, "mql"], [1, "sal"], [1, "recycled"], [2, "mql"]]
    hist = lifecycle.history(engine, 1)
    assert hist["to_stage"].tolist()[-1] == "mql"


def test_per_person_reasons_and_times(engine: sa.Engine, make_ctx) -> None:
    _seed(engine, {1: "mql", 2: "mql"})
    ctx = make_ctx({}, engine)
    at = [pd.Timestamp("2026-11-20 10:00"), pd.Timestamp("2026-11-21 11:00")]
    with engine.begin() as c:
        lifecycle.transition(c, [1, 2], "sal", ["accepted by rep a", "accepted by rep b"], ctx, occurred_at=at)
    ev = _events(engine).sort_values("person_id")
    assert ev["reason"].tolist() == ["accepted by rep a", "accepted by rep b"]
    assert pd.to_datetime(ev["occurred_at"]).tolist() == at
