"""Warehouse I/O of the identity stage (leadflow/identity/store.py): the two key tables.

A day's blocking keys land in ``person_keys_recent`` while it has room and move to
``person_keys`` in one sorted insert when a write would pass it (issue 17: random inserts into
the large index rewrote most of its pages every day). Where a key lives must change nothing
that resolution decides, and no key may be lost or doubled by the move.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.identity import load_leads, store
from leadflow.store import db
from leadflow.store.schema import person_keys, person_keys_recent, person_records
from tests.identity_helpers import CONFIG, key_rows, land
from tests.test_identity_load import OLIVER

ALWAYS_RECENT, NEVER_RECENT = 10**6, 0
FILES = [[1, 3], [0], [2]]      # OLIVER's rows, one file a day: later files meet earlier people


def _load_days(engine, make_ctx, monkeypatch, per_person: int) -> set[frozenset[str]]:
    monkeypatch.setattr(store, "RECENT_PER_PERSON", per_person)
    ctx = make_ctx(CONFIG, engine)
    for f in FILES:
        land(engine, [OLIVER[i] for i in f], "crm")
        load_leads(ctx)
    pr = db.read_df(engine, sa.select(person_records.c.source_record_id, person_records.c.person_id))
    return {frozenset(g["source_record_id"]) for _, g in pr.groupby("person_id")}


@pytest.mark.parametrize("per_person", [ALWAYS_RECENT, NEVER_RECENT], ids=["recent", "main"])
def test_where_the_keys_live_changes_no_decision(engine, make_ctx, monkeypatch, per_person) -> None:
    """Later files meet earlier people through keys in either table: the same people form."""
    got = _load_days(engine, make_ctx, monkeypatch, per_person)
    assert got == {frozenset({"o1", "o2", "o3"}), frozenset({"m1"})}
    with engine.connect() as c:
        rows = key_rows(c)
    assert rows["person_keys_recent" if per_person else "person_keys"] > 0
    assert rows["person_keys" if per_person else "person_keys_recent"] == 0


def test_a_write_past_the_room_moves_every_recent_key_once(engine, make_ctx, monkeypatch) -> None:
    _load_days(engine, make_ctx, monkeypatch, ALWAYS_RECENT)
    with engine.connect() as c:
        before = db.read_df(c, sa.select(person_keys_recent))
    assert len(before) > 0
    monkeypatch.setattr(store, "RECENT_PER_PERSON", NEVER_RECENT)
    extra = {"first_name": "Nia", "last_name": "Park", "company": "Initech", "email": "nia.park@initech.com",
             "source_record_id": "n1"}
    land(engine, [extra], "crm")
    load_leads(make_ctx(CONFIG, engine))
    with engine.connect() as c:
        rows = key_rows(c)
        main = db.read_df(c, sa.select(person_keys))
    assert rows["person_keys_recent"] == 0
    assert not main.duplicated().any()
    moved = pd.MultiIndex.from_frame(before[["key_hash", "person_id"]].astype("int64"))
    assert moved.isin(pd.MultiIndex.from_frame(main[["key_hash", "person_id"]].astype("int64"))).all()
    assert len(main) > len(before)          # Nia's keys went to person_keys with them


def test_a_refresh_replaces_a_persons_keys_in_both_tables(engine, make_ctx, monkeypatch) -> None:
    """Keys written to person_keys, then the person's golden record changes while the recent
    table has room: the old keys go from person_keys, the new ones land in the recent table."""
    monkeypatch.setattr(store, "RECENT_PER_PERSON", NEVER_RECENT)
    ctx = make_ctx(CONFIG, engine)
    land(engine, [OLIVER[0]], "crm")
    load_leads(ctx)
    with engine.connect() as c:
        pid = int(c.execute(sa.select(person_records.c.person_id)).scalar_one())
        first = key_rows(c, pid)
    assert first["person_keys"] > 0 and first["person_keys_recent"] == 0
    monkeypatch.setattr(store, "RECENT_PER_PERSON", ALWAYS_RECENT)
    with engine.begin() as c:
        store.update_people(c, pd.DataFrame({"person_id": [pid], "company_norm": ["globex"]}), ["company_norm"])
        after = key_rows(c, pid)
    assert after["person_keys"] == 0 and after["person_keys_recent"] > 0


def _person(**kw: object) -> dict:
    """A people row as the load writes it (``kw``: its address or source key)."""
    return {"lifecycle_stage": "lead", "cycle": 1, "opt_out": False, "do_not_contact": False,
            "is_competitor": False, "account_match": "none", "created_at": pd.Timestamp("2026-11-26"),
            "updated_at": pd.Timestamp("2026-11-26"), "email_norm": None, "source_key": None, **kw}


def test_insert_people_returns_every_rows_id_also_for_people_another_writer_inserted(engine) -> None:
    """The ids come back from the insert; a row whose address (or source key) another writer
    inserted first is skipped and its id looked up, so every row gets the person it belongs to."""
    from leadflow.store.schema import people

    with engine.begin() as c:
        first = db.copy_upsert(c, people, pd.DataFrame([_person(email_norm="x@acme.io"), _person(source_key="crm:7")]),
                               returning="person_id")
        n, by_email, by_key = store.insert_people(c, pd.DataFrame([
            _person(email_norm="x@acme.io"), _person(email_norm="y@acme.io"),
            _person(source_key="crm:7"), _person(source_key="crm:8")]))
        all_ids = dict(c.execute(sa.select(people.c.person_id, sa.func.coalesce(people.c.email_norm,
                                                                                people.c.source_key))).all())
    assert n == 2
    assert by_email["x@acme.io"] == first[0] and by_key["crm:7"] == first[1]
    assert {all_ids[by_email["y@acme.io"]], all_ids[by_key["crm:8"]]} == {"y@acme.io", "crm:8"}


def test_a_rebuild_writes_every_chunk_to_the_main_table(engine, make_ctx, monkeypatch) -> None:
    """``build_keys`` (a warehouse whose keys were emptied, or written around the store) writes
    in chunks; a chunk that fit the recent table's room would fill it at once, and the next
    day's load would pay the whole merge. Every chunk goes to person_keys."""
    _load_days(engine, make_ctx, monkeypatch, ALWAYS_RECENT)
    with engine.begin() as c:
        before = sum(key_rows(c).values())
        for t in store.KEY_TABLES:
            c.execute(sa.delete(t))
        assert store.build_keys(c, chunk=1) == before
        assert key_rows(c) == {"person_keys": before, "person_keys_recent": 0}


def test_insert_people_into_an_empty_warehouse_returns_every_rows_id(engine) -> None:
    """A first load fills the empty table and reads the ids back: each address and source key
    names the person holding it, a repeated address one person, and a second batch (a table
    with rows: the upsert) gets its own new ids."""
    from leadflow.store.schema import people

    with engine.begin() as c:
        n, by_email, by_key = store.insert_people(c, pd.DataFrame([
            _person(email_norm="x@acme.io"), _person(source_key="crm:7"), _person(email_norm="x@acme.io"),
            _person(email_norm="y@acme.io")]))
        n2, by_email2, _ = store.insert_people(c, pd.DataFrame([_person(email_norm="z@acme.io"),
                                                               _person(email_norm="x@acme.io")]))
        held = dict(c.execute(sa.select(people.c.person_id, sa.func.coalesce(people.c.email_norm,
                                                                              people.c.source_key))).all())
    assert (n, n2) == (3, 1) and len(held) == 4
    assert {held[i] for i in by_email.values()} == {"x@acme.io", "y@acme.io"}
    assert all(held[i] == e for e, i in {**by_email, **by_email2}.items()) and held[by_key["crm:7"]] == "crm:7"
    assert by_email2["x@acme.io"] == by_email["x@acme.io"]
    with engine.begin() as c:
        assert store.insert_people(c, pd.DataFrame(columns=["email_norm", "source_key"])) == (0, {}, {})


def test_keys_built_from_people_read_in_parts_are_the_keys_of_one_read(engine, make_ctx, monkeypatch) -> None:
    """A first load builds its new people's keys from their values read in parts (issue 17: the
    read-back of a million people at once was the load's peak memory); reading one person at a
    time gives the very key rows of one read, and they are the rows the load stored."""
    _load_days(engine, make_ctx, monkeypatch, ALWAYS_RECENT)
    with engine.connect() as c:
        ids = [int(p) for p, in c.execute(sa.select(person_records.c.person_id).distinct())]
        whole = store.keys_of(c, ids, chunk=len(ids))
        parts = store.keys_of(c, ids, chunk=1)
        held = pd.concat([db.read_df(c, sa.select(t.c.key_hash, t.c.person_id)) for t in store.KEY_TABLES])
    assert len(ids) == 2 and len(whole) > len(ids)
    order = ["key_hash", "person_id"]
    as_rows = lambda f: f[order].astype("int64").sort_values(order, ignore_index=True)  # noqa: E731
    pd.testing.assert_frame_equal(as_rows(parts), as_rows(whole))
    pd.testing.assert_frame_equal(as_rows(held).drop_duplicates(ignore_index=True),
                                  as_rows(whole).drop_duplicates(ignore_index=True))
