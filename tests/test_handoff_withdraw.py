"""Withdrawing open handoffs follows the day's contact changes (leadflow/handoff/withdraw.py,
leadflow/store/triggers.py): database triggers queue every person whose standing may have
changed, whatever wrote the change, and a run checks only those people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.handoff import synthetic as syn
from leadflow.handoff.withdraw import withdraw_blocked
from leadflow.store import db, triggers
from leadflow.store.schema import contact_blocks, contact_changes, handoffs, people, person_records, suppressions
from leadflow.vocab.emails import email_hash_of

D1 = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 9, 0)
N = 30


def _handoff(conn: sa.Connection, pid: int, run_date: date = D1, status: str = "queued", cycle: int = 1) -> None:
    conn.execute(handoffs.insert().values(person_id=pid, cycle=cycle, owner_rep="r1", route_rule="round_robin",
                                          qualified_by="threshold", run_date=run_date, handed_off_at=T0,
                                          status=status))


def _record(conn: sa.Connection, pid: int, row: int, email: str) -> None:
    db.bulk_insert(conn, person_records, pd.DataFrame([{
        "batch_id": 1, "row_number": row, "source": "web", "person_id": pid, "match_rule": "email",
        "match_score": 1.0, "created_at": T0, "email_norm": email}]))


def _block(conn: sa.Connection, email: str, row: int) -> None:
    conn.execute(contact_blocks.insert().values(email_hash=email_hash_of(email), signal="opt_out", source="web",
                                                kind="inbound_leads", batch_id=9, row_number=row, created_at=T0))


@pytest.fixture
def warehouse(engine) -> sa.Engine:
    """N people, each with one record and one open handoff of D1; the change queue emptied."""
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": range(1, N + 1)}))
        for pid in range(1, N + 1):
            _record(c, pid, pid, f"p{pid}@example.test")
            _handoff(c, pid)
        c.execute(sa.delete(contact_changes))
    return engine


def _queued(engine: sa.Engine) -> list[int]:
    with engine.connect() as c:
        return sorted({int(x) for x, in c.execute(sa.select(contact_changes.c.person_id))})


def _ctx(d: date) -> Any:
    from types import SimpleNamespace
    return SimpleNamespace(run_date=d, run_id=f"test-{d}", as_of=datetime.combine(d, datetime.min.time()))


CHANGES: dict[str, Callable[[sa.Connection], None]] = {
    "opt_out": lambda c: c.execute(sa.update(people).where(people.c.person_id == 7).values(opt_out=True)),
    "do_not_contact": lambda c: c.execute(sa.update(people).where(people.c.person_id == 7).values(do_not_contact=True)),
    "erased": lambda c: c.execute(sa.update(people).where(people.c.person_id == 7).values(erased_at=T0)),
    "new address": lambda c: c.execute(sa.update(people).where(people.c.person_id == 7)
                                       .values(email_hash=email_hash_of("new@example.test"))),
    "block on the person's address": lambda c: _block(c, "p7@example.test", 1),
    "block on a record's address": lambda c: (_record(c, 7, 100, "old7@example.test"),
                                              c.execute(sa.delete(contact_changes)),
                                              _block(c, "old7@example.test", 1)),
    "block released then restored": lambda c: (_block(c, "p7@example.test", 1),
                                               c.execute(sa.update(contact_blocks).values(released_at=T0)),
                                               c.execute(sa.delete(contact_changes)),
                                               c.execute(sa.update(contact_blocks).values(released_at=None))),
    "record with a blocked address joins": lambda c: (_block(c, "x@example.test", 1),
                                                      c.execute(sa.delete(contact_changes)),
                                                      _record(c, 7, 100, "x@example.test")),
    "record with a blocked address moves": lambda c: (_block(c, "p8@example.test", 1),
                                                      c.execute(sa.delete(contact_changes)),
                                                      c.execute(sa.update(person_records)
                                                                .where(person_records.c.person_id == 8)
                                                                .values(person_id=7))),
    "handoff created": lambda c: _handoff(c, 7, D1 + timedelta(days=1), cycle=2),
    "handoff moved": lambda c: c.execute(sa.update(handoffs).where(handoffs.c.person_id == 8)
                                         .values(person_id=7, cycle=2)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_kind_of_change_queues_the_person(warehouse, change: str) -> None:
    with warehouse.begin() as c:
        CHANGES[change](c)
    assert 7 in _queued(warehouse)
    assert set(_queued(warehouse)) <= {7, 8}       # a record or handoff moved from 8 may queue 8 too


def test_unrelated_writes_queue_nobody(warehouse) -> None:
    with warehouse.begin() as c:
        c.execute(sa.update(people).values(city="Berlin", updated_at=T0 + timedelta(days=1)))
        c.execute(sa.update(handoffs).values(sla_breached=True))
        c.execute(sa.update(people).values(opt_out=False))                 # unchanged value
        _block(c, "stranger@example.test", 1)                              # nobody's address
    assert _queued(warehouse) == []


def test_a_run_checks_only_the_queued_people_and_settles_them(warehouse) -> None:
    with warehouse.begin() as c:
        c.execute(sa.update(people).where(people.c.person_id.in_([7, 9])).values(opt_out=True))
        # person 9's change taken off the queue: a run that scanned every open handoff would
        # still withdraw 9; one that follows the queue checks 7 only
        c.execute(sa.delete(contact_changes).where(contact_changes.c.person_id == 9))
    with warehouse.begin() as c:
        assert withdraw_blocked(c, _ctx(D1 + timedelta(days=1))) == 1
    with warehouse.connect() as c:
        st = dict(c.execute(sa.select(handoffs.c.person_id, handoffs.c.status)).all())
        sup = c.execute(sa.select(suppressions.c.person_id, suppressions.c.reason)).all()
    assert st[7] == "withdrawn" and st[9] == "queued" and sum(s == "queued" for s in st.values()) == N - 1
    assert [tuple(r) for r in sup] == [(7, "opt_out")]
    assert _queued(warehouse) == []
    with warehouse.begin() as c:             # again: nothing queued, nothing withdrawn or logged twice
        assert withdraw_blocked(c, _ctx(D1 + timedelta(days=2))) == 0
    assert len(db.read_df(warehouse, sa.select(suppressions))) == 1


def test_a_handoff_of_the_run_date_keeps_its_change_for_a_later_date(warehouse) -> None:
    """The run date's own handoff is deliver's to take out (withdrawn_late); the change stays
    queued, so a run of another date still withdraws it if deliver never ran."""
    d2 = D1 + timedelta(days=1)
    with warehouse.begin() as c:
        _handoff(c, 30, d2, cycle=2)                 # person 30: an open handoff of d2 as well
        c.execute(sa.update(people).where(people.c.person_id == 30).values(opt_out=True))
    with warehouse.begin() as c:
        assert withdraw_blocked(c, _ctx(d2)) == 1          # the D1 handoff only
    assert _queued(warehouse) == [30]
    with warehouse.begin() as c:
        assert withdraw_blocked(c, _ctx(d2 + timedelta(days=1))) == 1   # now the d2 one
    assert _queued(warehouse) == []


def test_both_ways_of_building_a_warehouse_have_the_triggers(engine, tmp_path) -> None:
    """A new warehouse (create_all) and one upgraded revision by revision end with the same
    triggers; an upgrade from before revision 0019 queues every open handoff's person once."""
    from leadflow.store import migrations
    with engine.connect() as c:
        fresh = triggers.names(c)
    assert fresh == sorted(triggers.SQLITE)
    old = db.engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrations.upgrade_to(old, "0018")
    with old.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [1, 2]}))
        _handoff(c, 1)
        _handoff(c, 2, status="won")
    migrations.upgrade_to(old, "head")
    with old.connect() as c:
        assert triggers.names(c) == fresh
    assert _queued(old) == [1]
