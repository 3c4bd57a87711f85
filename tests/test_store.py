"""The store on SQLite and PostgreSQL: schema creation, idempotent writes, bulk loads."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.errors import StoreError
from leadflow.handoff import synthetic as syn
from leadflow.store import db
from leadflow.store.schema import ingest_batches, metadata, people, stg_inbound_leads
from tests.conftest import PG_URL


def test_init_creates_every_table_and_is_idempotent(engine: sa.Engine) -> None:
    tables = db.init(engine)
    assert set(tables) == set(metadata.tables)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    db.require_schema(engine)


def test_insert_ignore_skips_existing_keys(engine: sa.Engine) -> None:
    now = datetime(2026, 11, 26)
    rows = [{"email_norm": f"p{i}@acme.test", "lifecycle_stage": "lead", "cycle": 1,
             "opt_out": False, "do_not_contact": False, "is_competitor": False,
             "created_at": now, "updated_at": now} for i in range(3)]
    with engine.begin() as c:
        assert db.insert_ignore(c, people, rows, ["email_norm"]) == 3
    with engine.begin() as c:
        assert db.insert_ignore(c, people, rows, ["email_norm"]) == 0
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(people)).scalar() == 3


def test_bulk_insert_round_trips_types_and_json(engine: sa.Engine) -> None:
    now = datetime(2026, 11, 26, 12, 0)
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="s", kind="inbound_leads", uri="f.csv", content_hash="h", status="landed",
            loaded_at=now)).inserted_primary_key[0]
        df = pd.DataFrame({
            "source": ["s", "s"], "batch_id": [bid, bid], "row_number": [1, 2],
            "loaded_at": [now, now], "state": ["landed", "landed"],
            "email": ["a@x.test", None], "company_size": [10, None],
            "created_at": [now, pd.NaT], "opt_out": [True, False],
            "attributes": [{"k": "v, \"quoted\"\n"}, None],
        })
        assert db.bulk_insert(c, stg_inbound_leads, df) == 2
    out = db.read_df(engine, sa.select(stg_inbound_leads).order_by(stg_inbound_leads.c.row_number))
    assert out["email"].tolist()[0] == "a@x.test" and pd.isna(out["email"].tolist()[1])
    assert out["attributes"].tolist()[0] == {"k": "v, \"quoted\"\n"}
    assert bool(out["opt_out"].tolist()[0]) is True


def test_unreachable_database_is_one_line_error() -> None:
    eng = db.engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError) as e:
        db.check(eng)
    msg = str(e.value)
    assert "cannot reach the warehouse" in msg and "secret" not in msg and "\n" not in msg


def test_records_gives_plain_python_values() -> None:
    import numpy as np

    df = pd.DataFrame({
        "i": [1, 2], "f": [1.5, np.nan], "s": ["x", None], "t": [pd.Timestamp("2026-01-01"), pd.NaT],
        "ni": pd.array([1, None], dtype="Int64"), "nb": pd.array([True, None], dtype="boolean"),
        "o": pd.Series([None, np.int64(3)], dtype=object), "j": [{"k": 1}, None],
        "st": pd.Series(["s", None], dtype="str"),
    })
    rows = db.records(df)
    assert rows[1] == {"i": 2, "f": None, "s": None, "t": None, "ni": None, "nb": None, "o": 3,
                       "j": None, "st": None}
    assert rows[0]["t"] == datetime(2026, 1, 1) and type(rows[0]["t"]) is datetime
    for row in rows:
        for v in row.values():
            assert v is None or type(v) in (int, float, str, bool, dict, datetime), type(v)


# ----------------------------------------------------------------------------- read_frame / copy_upsert
from leadflow.store import frames  # noqa: E402
from leadflow.store.schema import campaign_spend, campaigns, lifecycle_events, quarantine, scores  # noqa: E402

T0 = datetime(2026, 11, 26, 9, 30, 15, 123456)


def _events(n: int, start: int = 0, reason: str = "r") -> pd.DataFrame:
    return pd.DataFrame({"person_id": range(start, start + n), "cycle": 1, "from_stage": None,
                         "to_stage": "lead", "occurred_at": T0, "reason": reason, "run_id": "run-1"})


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar())


def test_copy_upsert_appends_and_reads_back(engine: sa.Engine) -> None:
    with engine.begin() as c:
        assert frames.copy_upsert(c, lifecycle_events, _events(3)) == 3
    out = frames.read_frame(engine, sa.select(lifecycle_events).order_by(lifecycle_events.c.person_id))
    assert out["person_id"].tolist() == [0, 1, 2]
    assert out["occurred_at"].tolist() == [T0] * 3
    assert out["from_stage"].isna().all() and out["reason"].tolist() == ["r"] * 3


def test_copy_upsert_conflict_ignore_counts_only_new_rows(engine: sa.Engine) -> None:
    key = ["person_id", "cycle", "to_stage"]
    with engine.begin() as c:
        assert frames.copy_upsert(c, lifecycle_events, _events(3), conflict=key) == 3
    with engine.begin() as c:   # two old keys, two new ones; old rows keep their reason
        assert frames.copy_upsert(c, lifecycle_events, _events(4, start=1, reason="x"), conflict=key) == 2
    out = frames.read_frame(engine, "SELECT person_id, reason FROM lifecycle_events ORDER BY person_id")
    assert out["reason"].tolist() == ["r", "r", "r", "x", "x"]


def test_copy_upsert_conflict_update_rewrites_columns(engine: sa.Engine) -> None:
    with engine.begin() as c:
        c.execute(campaigns.insert(), [{"campaign_id": "c1"}, {"campaign_id": "c2"}])
        frames.copy_upsert(c, campaign_spend, pd.DataFrame({
            "campaign_id": ["c1", "c2"], "spend_date": [date(2026, 11, 1)] * 2, "amount": [10.5, 20.25],
            "currency": "EUR"}), conflict=["campaign_id", "spend_date"], update=["amount", "currency"])
    with engine.begin() as c:   # a correction (repeated in the frame: the last row wins) and a new day
        n = frames.copy_upsert(c, campaign_spend, pd.DataFrame({
            "campaign_id": ["c1", "c1", "c1"], "spend_date": [date(2026, 11, 1)] * 2 + [date(2026, 11, 2)],
            "amount": [1.0, 11.75, 3.1], "currency": ["USD", "EUR", "EUR"]}),
            conflict=["campaign_id", "spend_date"], update=["amount", "currency"])
        assert n == 2
    out = frames.read_frame(engine, sa.select(campaign_spend).order_by("campaign_id", "spend_date"))
    assert out["amount"].tolist() == [11.75, 3.1, 20.25]
    assert out["amount"].dtype == "float64"          # money is Numeric, read as float on both backends
    assert out["currency"].tolist() == ["EUR", "EUR", "EUR"]


def test_copy_upsert_returns_ids_of_inserted_rows_in_frame_order(engine: sa.Engine) -> None:
    key = ["person_id", "cycle", "to_stage"]
    with engine.begin() as c:
        first = frames.copy_upsert(c, lifecycle_events, _events(3), conflict=key, returning="event_id")
        again = frames.copy_upsert(c, lifecycle_events, _events(5), conflict=key, returning="event_id")
    assert len(first) == 3 and first == sorted(first) and len(again) == 2
    ids = frames.read_frame(engine, "SELECT event_id, person_id FROM lifecycle_events ORDER BY person_id")
    assert ids["event_id"].tolist() == first + again


def test_copy_upsert_json_columns_round_trip(engine: sa.Engine) -> None:
    recs = [{"k": "v, \"quoted\"\n", "n": [1, 2]}, {"é": None}]
    df = pd.DataFrame({"source": "s", "kind": "inbound_leads", "batch_id": [1, 2], "row_number": [1, 1],
                       "stage": "quality", "record": recs, "reasons": [["a"], []], "created_at": T0})
    with engine.begin() as c:
        assert frames.copy_upsert(c, quarantine, df, conflict=["kind", "batch_id", "row_number"]) == 2
        text = pd.DataFrame({"source": "s", "kind": "inbound_leads", "batch_id": [3], "row_number": [1],
                             "stage": "quality", "record": ['{"pre": "encoded"}'], "reasons": ['["b"]'],
                             "created_at": T0})
        frames.copy_upsert(c, quarantine, text, json_text=["record", "reasons"])
    out = frames.read_frame(engine, sa.select(quarantine).order_by(quarantine.c.batch_id))
    assert out["record"].tolist() == recs + [{"pre": "encoded"}]
    assert out["reasons"].tolist() == [["a"], [], ["b"]]
    assert out["status"].tolist() == ["open"] * 3          # the column's default, not in the frame


def test_copy_upsert_missing_values_are_null_and_int_gaps_are_whole(engine: sa.Engine) -> None:
    import numpy as np

    df = pd.DataFrame({"person_id": [1.0, 2.0, 3.0], "score_date": [date(2026, 11, 26)] * 3,
                       "fit_points": [1.5, 2.0, 0.0], "grade": ["A", "B", "C"],
                       "engagement_points": 0.0, "score": [10.0, 20.0, 30.0],
                       "probability": [0.25, np.nan, None], "model_version": [None, "m1", pd.NA],
                       "reasons": [["x"], None, np.nan], "run_id": "r"})
    # an integer column with a gap arrives as floats (7.0, NaN, 9.0) and is stored as 7, NULL, 9
    with engine.begin() as c:
        assert frames.copy_upsert(c, scores, df, conflict=["person_id", "score_date"]) == 3
        frames.copy_upsert(c, lifecycle_events, _events(3).assign(
            cycle=[1.0, 2.0, 3.0], from_stage=[None, np.nan, pd.NA]))
        c.execute(campaigns.insert(), [{"campaign_id": "c1"}])
        frames.copy_upsert(c, campaign_spend, pd.DataFrame({
            "campaign_id": "c1", "spend_date": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03"]),
            "amount": 1.0, "batch_id": [7.0, np.nan, 9.0]}))
    out = frames.read_frame(engine, sa.select(scores).order_by(scores.c.person_id))
    assert out["person_id"].tolist() == [1, 2, 3]
    assert out["probability"].isna().tolist() == [False, True, True]
    assert out["model_version"].isna().tolist() == [True, False, True]
    assert out["reasons"].isna().tolist() == [False, True, True]
    ev = frames.read_frame(engine, "SELECT cycle, from_stage FROM lifecycle_events ORDER BY person_id")
    assert ev["cycle"].tolist() == [1, 2, 3] and ev["from_stage"].isna().all()
    sp = frames.read_frame(engine, "SELECT batch_id, CAST(batch_id AS TEXT) AS t FROM campaign_spend "
                                   "ORDER BY spend_date")
    assert sp["t"].fillna("-").tolist() == ["7", "-", "9"]


def test_copy_upsert_nat_is_null(engine: sa.Engine) -> None:
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="s", kind="inbound_leads", uri="f.csv", content_hash="h", status="landed",
            loaded_at=T0)).inserted_primary_key[0]
        frames.copy_upsert(c, stg_inbound_leads, pd.DataFrame({
            "source": "s", "batch_id": bid, "row_number": [1, 2], "loaded_at": T0,
            "created_at": [T0, pd.NaT], "email": ["", None], "company_size": [5, None]}))
    out = frames.read_frame(engine, sa.select(stg_inbound_leads).order_by(stg_inbound_leads.c.row_number))
    assert out["created_at"].tolist()[0] == T0 and pd.isna(out["created_at"].tolist()[1])
    assert out["email"].tolist()[0] == "" and pd.isna(out["email"].tolist()[1])   # "" stays ""
    assert out["state"].tolist() == ["landed", "landed"]


def test_copy_upsert_empty_frame_writes_nothing(engine: sa.Engine) -> None:
    with engine.begin() as c:
        assert frames.copy_upsert(c, lifecycle_events, _events(0)) == 0
        assert frames.copy_upsert(c, lifecycle_events, _events(0), conflict=["person_id"],
                                  returning="event_id") == []
    assert _count(engine, lifecycle_events) == 0
    empty = frames.read_frame(engine, sa.select(lifecycle_events.c.person_id, lifecycle_events.c.reason))
    assert list(empty.columns) == ["person_id", "reason"] and empty.empty


def test_copy_upsert_large_frame_goes_in_slices(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "_COPY_ROWS", 1000)
    key = ["person_id", "cycle", "to_stage"]
    n = 12_345
    with engine.begin() as c:
        ids = frames.copy_upsert(c, lifecycle_events, _events(n), conflict=key, returning="event_id")
        assert len(ids) == n == len(set(ids))
        assert frames.copy_upsert(c, lifecycle_events, _events(n + 5), conflict=key) == 5
        assert frames.copy_upsert(c, lifecycle_events, _events(n + 5, start=100_000)) == n + 5
    assert _count(engine, lifecycle_events) == 2 * n + 10
    got = frames.read_ids(engine, sa.select(lifecycle_events.c.person_id), lifecycle_events.c.person_id,
                          list(range(0, 120_000, 7)))
    assert sorted(got["person_id"]) == [i for i in range(0, 120_000, 7)
                                        if i < n + 5 or 100_000 <= i < 100_000 + n + 5]


NASTY_KEYS = ['plain', 'with "quotes"', "back\\slash\\", "comma,brace}{", " spaced ", "", "NULL", "null",
              "emoji \U0001F680", "=HYPERLINK(\"x\")", "'; DROP TABLE people; --", "tab\tnew\nline", "ä ß 字"]


def test_read_values_finds_exactly_the_keys_asked_for_whatever_they_hold(engine: sa.Engine) -> None:
    """Text keys go to PostgreSQL as one array literal (escaped by leadflow, not the driver):
    quotes, backslashes, commas, braces, "NULL", blanks and emoji each find their own row only."""
    rows = [{"reason": k, "person_id": i, "cycle": 1, "to_stage": "lead",
             "occurred_at": datetime(2026, 11, 26)} for i, k in enumerate([*NASTY_KEYS, "other"])]
    with engine.begin() as c:
        frames.copy_upsert(c, lifecycle_events, pd.DataFrame(rows))
    q = sa.select(lifecycle_events.c.reason, lifecycle_events.c.person_id)
    got = frames.read_values(engine, q, lifecycle_events.c.reason, NASTY_KEYS)
    assert sorted(got["reason"]) == sorted(NASTY_KEYS)
    assert sorted(got["person_id"]) == list(range(len(NASTY_KEYS)))
    one = frames.read_values(engine, q, lifecycle_events.c.reason, ['with "quotes"', "absent"])
    assert one["reason"].tolist() == ['with "quotes"']


def test_copy_update_sets_columns_by_key_with_a_guard(engine: sa.Engine) -> None:
    with engine.begin() as c:
        frames.copy_upsert(c, lifecycle_events, _events(4))
        n = frames.copy_update(c, lifecycle_events, pd.DataFrame({
            "person_id": [0, 1, 2, 99], "cycle": 1, "reason": ["a", "b", None, "z"]}),
            key=["person_id", "cycle"], columns=["reason"], where="lifecycle_events.person_id < 2")
    assert n == 2
    out = frames.read_frame(engine, "SELECT reason FROM lifecycle_events ORDER BY person_id")
    assert out["reason"].tolist() == ["a", "b", "r", "r"]


def test_read_frame_takes_text_with_parameters(engine: sa.Engine) -> None:
    with engine.begin() as c:
        frames.copy_upsert(c, lifecycle_events, _events(5))
    out = frames.read_frame(engine, "SELECT person_id FROM lifecycle_events WHERE person_id >= :lo "
                                    "ORDER BY person_id", {"lo": 3})
    assert out["person_id"].tolist() == [3, 4]


def test_old_sqlite_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import sqlite3

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(StoreError, match="SQLite 3.35.0 or newer is required.*3.31.1"):
        db.engine(f"sqlite:///{tmp_path / 'old.db'}")


def test_money_is_exact_numeric_and_reads_as_float(engine: sa.Engine) -> None:
    from leadflow.store.schema import outcomes

    for col in (campaign_spend.c.amount, outcomes.c.amount):
        assert isinstance(col.type, sa.Numeric) and not isinstance(col.type, sa.Float)
    with engine.begin() as c:
        c.execute(campaigns.insert(), [{"campaign_id": "c1"}])
        frames.copy_upsert(c, campaign_spend, pd.DataFrame({
            "campaign_id": "c1", "spend_date": [date(2026, 11, d) for d in (1, 2, 3)], "amount": 0.1}))
    total = frames.read_frame(engine, "SELECT SUM(amount) AS s FROM campaign_spend")["s"]
    assert total.dtype == "float64"
    if engine.dialect.name == "postgresql":     # SQLite keeps NUMERIC values as REAL
        assert total.iloc[0] == 0.3                 # 0.1 + 0.1 + 0.1 in float is 0.30000000000000004


def _norm(v: object) -> object:
    """A value as compared across readers: missing as None, timestamps as Timestamps."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (datetime, pd.Timestamp)) or (isinstance(v, str) and v[:2] == "20" and v[4:5] == "-"):
        return pd.Timestamp(v)
    return v.item() if hasattr(v, "item") else v


def test_read_columns_equals_read_frame_text_escapes_nulls_and_odd_types(engine: sa.Engine, monkeypatch) -> None:
    """The columnar reader (JSON lines on SQLite, COPY on PostgreSQL) gives the values the row
    reader gives: empty text is not NULL, the text "NULL" is text, quotes, commas, newlines and
    control characters survive; a value SQLite stored against its column type falls back."""
    now = datetime(2026, 11, 26, 12, 0, 0, 123456)
    texts = ["plain", "", "NULL", 'say "hi", ok', "two\nlines", "tab\tand\x07bell", "Zoë 東京", None]
    n = len(texts)
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="s", kind="inbound_leads", uri="f.csv", content_hash="h2", status="landed",
            loaded_at=now)).inserted_primary_key[0]
        db.bulk_insert(c, stg_inbound_leads, pd.DataFrame({
            "source": "s", "batch_id": bid, "row_number": range(1, n + 1), "loaded_at": now,
            "state": "landed", "email": texts, "company": list(reversed(texts)),
            "company_size": [10, None, 3, 0, -5, 7, None, 2**40],
            "created_at": [now, pd.NaT] * (n // 2), "opt_out": [True, False, None, True] * (n // 4)}))
    cols = ["batch_id", "row_number", "email", "company", "company_size", "created_at", "opt_out"]
    where, params = "batch_id = :b AND row_number > :r", {"b": bid, "r": 1}

    row_reader = frames.read_frame

    def both(fallback: bool = False) -> tuple[list[list[object]], list[list[object]]]:
        with engine.connect() as c, monkeypatch.context() as m:
            if not fallback:                               # the columnar path itself, no fallback
                m.setattr(frames, "read_frame", lambda *a, **k: pytest.fail("fell back"))
            fast = frames.read_columns(c, stg_inbound_leads, cols, where, params, ["row_number"], 6)
        with engine.connect() as c:
            slow = row_reader(c, frames.select_sql(stg_inbound_leads, cols, where, params, ["row_number"], 6))
        assert list(fast.columns) == cols and len(fast) == 6
        return ([[_norm(v) for v in r] for r in fast[cols].itertuples(index=False)],
                [[_norm(v) for v in r] for r in slow[cols].itertuples(index=False)])

    fast, slow = both()
    assert fast == slow
    assert [r[1] for r in fast] == list(range(2, 8)) and fast[0][2] == "" and fast[1][2] == "NULL"
    assert fast[3][2] == "two\nlines" and fast[4][2] == "tab\tand\x07bell"
    if engine.dialect.name == "sqlite":                    # SQLite keeps text in an integer column
        with engine.begin() as c:
            c.execute(sa.update(stg_inbound_leads).where(stg_inbound_leads.c.row_number == 3)
                      .values(company_size=sa.literal_column("'lots'")))
        fast, slow = both(fallback=True)
        assert fast == slow and fast[1][4] == "lots"


def _index_shape(engine: sa.Engine, table: str) -> tuple:
    ins = sa.inspect(engine)
    pk = ins.get_pk_constraint(table)
    ix = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in ins.get_indexes(table))
    return tuple(pk["constrained_columns"]), ix


def _keys(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["key_hash", "person_id"])


def test_fill_empty_writes_each_key_once_and_rebuilds_the_indexes(engine: sa.Engine) -> None:
    """A first load into an empty table: rows in, indexes built after, shaped as before."""
    from leadflow.store.schema import person_keys
    before = _index_shape(engine, "person_keys")
    with engine.begin() as c:
        n = frames.fill_empty(c, person_keys, _keys([(5, 1), (-3, 2), (5, 1), (2**62, 3)]))
    assert n == 3
    assert _index_shape(engine, "person_keys") == before
    got = frames.read_frame(engine, sa.select(person_keys).order_by(person_keys.c.key_hash))
    assert list(got.itertuples(index=False, name=None)) == [(-3, 2), (5, 1), (2**62, 3)]
    with engine.begin() as c:    # the primary key is back: a repeated pair is refused
        with pytest.raises(sa.exc.IntegrityError):
            c.execute(person_keys.insert().values(key_hash=5, person_id=1))


def test_fill_empty_leaves_a_table_with_rows_to_the_upsert(engine: sa.Engine) -> None:
    from leadflow.store.schema import person_keys
    with engine.begin() as c:
        frames.copy_upsert(c, person_keys, _keys([(1, 1)]))
    with engine.begin() as c:
        assert frames.fill_empty(c, person_keys, _keys([(1, 1), (2, 2)])) is None
    assert _count(engine, person_keys) == 1


def test_a_failed_fill_leaves_the_indexes_in_place(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction: a write that fails midway rolls back the dropped indexes too."""
    from leadflow.store.schema import person_keys
    before = _index_shape(engine, "person_keys")

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(frames, "copy_upsert", boom)
    with pytest.raises(RuntimeError), engine.begin() as c:
        frames.fill_empty(c, person_keys, _keys([(1, 1)]))
    assert _index_shape(engine, "person_keys") == before
    assert _count(engine, person_keys) == 0


def _records(rng, n: int) -> pd.DataFrame:
    """person_records rows repeating their keys at random (missing ids too)."""
    import numpy as np
    ids = rng.choice(["a", "b", "c", None], n)
    return pd.DataFrame({"batch_id": 1, "row_number": rng.integers(0, n, n), "source": "crm", "person_id": 1,
                         "match_rule": "new", "created_at": T0, "source_record_id": ids,
                         "record_hash": np.where(rng.random(n) < 0.5, "h1", "h2")})


@pytest.mark.parametrize("seed", range(6))
def test_fill_empty_keeps_what_an_in_order_upsert_keeps(engine: sa.Engine, seed: int) -> None:
    """Against ``ON CONFLICT DO NOTHING`` on any key, row for row; a frame the one pass cannot
    settle (rows repeating two keys) is left to the upsert."""
    import numpy as np

    from leadflow.store.schema import person_records
    rng = np.random.default_rng(seed)
    frame = _records(rng, 12)
    if seed % 2:       # rows repeating only the source key: settled in one pass
        frame["row_number"] = range(len(frame))
    cols = ["row_number", "source_record_id", "record_hash"]
    with engine.begin() as c:       # the person the records point to (a foreign key on PostgreSQL)
        c.execute(people.insert().values(person_id=1, email_norm="p@acme.test", lifecycle_stage="lead", cycle=1,
                                         opt_out=False, do_not_contact=False, is_competitor=False,
                                         created_at=T0, updated_at=T0))
    with engine.begin() as c:
        filled = frames.fill_empty(c, person_records, frame)
    got = frames.read_frame(engine, sa.select(*(person_records.c[k] for k in cols)).order_by("record_id"))
    with engine.begin() as c:
        c.execute(person_records.delete())
        frames.copy_upsert(c, person_records, frame, conflict=frames.ANY_KEY)
    want = frames.read_frame(engine, sa.select(*(person_records.c[k] for k in cols)).order_by("record_id"))
    repeats = sum(frame[k].duplicated().any() for k in (["row_number"], ["source_record_id", "record_hash"]))
    if seed % 2:
        assert repeats == 1 and filled == len(want) < len(frame) and got.equals(want)
    else:
        assert repeats == 2 and filled is None and got.empty


def test_fill_empty_leaves_the_schema_definition_as_it_was(engine: sa.Engine) -> None:
    import numpy as np
    """Dropping and re-adding constraints must not touch the shared table definitions: a
    warehouse created later in the same process still gets every key (SQLAlchemy's
    ``DropConstraint`` would have stopped ``CREATE TABLE`` from rendering them)."""
    from sqlalchemy.schema import CreateTable

    from leadflow.store.schema import person_keys, person_records
    before = {t.name: str(CreateTable(t).compile(engine)) for t in (person_keys, person_records)}
    with engine.begin() as c:
        frames.fill_empty(c, person_keys, _keys([(1, 1)]))
        c.execute(people.insert().values(person_id=1, email_norm="p@acme.test", lifecycle_stage="lead", cycle=1,
                                         opt_out=False, do_not_contact=False, is_competitor=False,
                                         created_at=T0, updated_at=T0))
        frames.fill_empty(c, person_records, _records(np.random.default_rng(1), 1))
    assert {t.name: str(CreateTable(t).compile(engine)) for t in (person_keys, person_records)} == before


def _nasty_staged_rows(engine: sa.Engine, all_filled: bool) -> int:
    """Staged leads holding every kind of value a delivery can carry, missing ones too (unless
    ``all_filled``: then no column has a gap, which changes how pandas types a column)."""
    now = datetime(2026, 11, 26, 12, 0, 0, 123456)
    texts = ["plain", "", "NULL", 'say "hi", ok', "two\nlines", "tab\tand\x07bell", "Zoë 東京 🎉", "=1+1"]
    attrs = [{"a": 1}, {"q": 'x"y', "n": None}, {"nested": {"l": [1, "2", None]}}, {"emoji": "🎉\n"},
             {}, {"big": 2**40, "f": 0.5}, {"t": True}, {"ü": "ß"}]
    n = len(texts)
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="s", kind="inbound_leads", uri="f.csv", content_hash=f"h{all_filled}", status="landed",
            loaded_at=now)).inserted_primary_key[0]
        gaps = not all_filled
        db.bulk_insert(c, stg_inbound_leads, pd.DataFrame({
            "source": "s", "batch_id": bid, "row_number": range(1, n + 1), "loaded_at": now,
            "state": "landed", "email": texts, "company": list(reversed(texts)),
            "first_name": [None if gaps and i % 3 == 0 else t for i, t in enumerate(texts)],
            "company_size": [10, None if gaps else 1, 3, 0, -5, 7, 9, 2**40],
            "created_at": [now, pd.NaT if gaps else now] * (n // 2),
            "opt_out": [True, False, None if gaps else True, True] * (n // 4),
            "attributes": [None if gaps and i == 2 else a for i, a in enumerate(attrs)]}))
    return int(bid)


@pytest.mark.parametrize("chunk", [3, 4, 1000])
@pytest.mark.parametrize("all_filled", [False, True], ids=["gaps", "filled"])
def test_read_table_equals_read_frame_value_for_value_and_dtype(engine: sa.Engine, monkeypatch,
                                                               all_filled: bool, chunk: int) -> None:
    """The columnar table reader gives exactly what the row reader gives: values, missing
    values, decoded JSON, timestamps, booleans and the dtypes pandas infers from them, in
    one read or in chunks (3: a short last chunk; 4: an empty one)."""
    bid = _nasty_staged_rows(engine, all_filled)
    where = f"batch_id = {bid}"
    with engine.connect() as c:
        slow = frames.read_frame(c, sa.select(stg_inbound_leads).where(sa.text(where))
                                 .order_by(stg_inbound_leads.c.row_number))
        with monkeypatch.context() as m:             # the columnar path itself, no fallback
            m.setattr(frames, "read_frame", lambda *a, **k: pytest.fail("fell back"))
            fast = frames.read_table(c, stg_inbound_leads, where, order_by=["row_number"], chunk=chunk)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["attributes"].iloc[2] == (None if not all_filled else {"nested": {"l": [1, "2", None]}})
    assert fast["attributes"].iloc[1] == {"q": 'x"y', "n": None}


def test_read_table_of_no_rows_keeps_the_columns(engine: sa.Engine) -> None:
    with engine.connect() as c:
        got = frames.read_table(c, stg_inbound_leads, "batch_id = -1")
    assert got.empty and list(got.columns) == [k.name for k in stg_inbound_leads.c]


def test_insert_new_into_a_table_with_rows_takes_no_table_lock(engine: sa.Engine) -> None:
    """Only a first load locks the table it fills: a daily insert into a table that already
    holds rows must not block the warehouse's readers (PostgreSQL: no ACCESS EXCLUSIVE lock)."""
    from leadflow.store.schema import person_keys
    with engine.begin() as c:
        frames.insert_new(c, person_keys, _keys([(1, 1)]), conflict=["key_hash", "person_id"])
    with engine.begin() as c:
        assert frames.insert_new(c, person_keys, _keys([(1, 1), (2, 2)]), conflict=["key_hash", "person_id"]) == 1
        if engine.dialect.name == "postgresql":
            held = c.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock' "
                "AND relation = 'person_keys'::regclass").scalar()
            assert held == 0


def test_fill_empty_with_no_rows_leaves_the_indexes_alone(engine: sa.Engine, monkeypatch) -> None:
    from leadflow.store.schema import person_keys
    monkeypatch.setattr(sa.Index, "drop", lambda *a, **k: pytest.fail("an index dropped for nothing"))
    with engine.begin() as c:
        assert frames.fill_empty(c, person_keys, _keys([])) == 0


def _person(**kw: object) -> dict:
    return {"lifecycle_stage": "lead", "cycle": 1, "opt_out": False, "do_not_contact": False,
            "is_competitor": False, "created_at": T0, "updated_at": T0, "email_norm": None, "source_key": None, **kw}


def test_fill_empty_rebuilds_unique_keys_the_definition_does_not_name(engine: sa.Engine) -> None:
    """``people.email_norm`` is ``unique=True``: a constraint with the database's own name. A
    first load drops and rebuilds it too, and it still refuses a repeated address afterwards."""
    before = _index_shape(engine, "people")
    uniques = sorted(map(str, (u["column_names"] for u in sa.inspect(engine).get_unique_constraints("people"))))
    seen: list[str] = []

    def note(conn, cur, stmt, *a) -> None:
        seen.append(stmt)
    sa.event.listen(engine, "before_cursor_execute", note)
    try:           # the engine is cached per URL: the listener must not outlive the test
        with engine.begin() as c:
            assert frames.fill_empty(c, people, pd.DataFrame([_person(email_norm="a@x.io"),
                                                              _person(source_key="crm:1"),
                                                              _person(email_norm="a@x.io")])) == 2
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    if engine.dialect.name == "postgresql":    # SQLite cannot drop a unique constraint: it keeps it
        dropped = [s for s in seen if "DROP CONSTRAINT" in s]
        assert len(dropped) == 2 and len([s for s in seen if "ADD CONSTRAINT" in s and "UNIQUE" in s]) == 2
    assert _index_shape(engine, "people") == before
    assert sorted(map(str, (u["column_names"] for u in sa.inspect(engine).get_unique_constraints("people")))) == uniques
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(people.insert().values(**_person(email_norm="a@x.io")))


def test_upsert_rows_into_an_empty_table_gives_what_the_upsert_gives(engine: sa.Engine) -> None:
    """Scores of a first day are filled (no key repeated) or upserted (a repeated key: the last
    row wins, as ``ON CONFLICT DO UPDATE`` in order); a re-run rewrites them either way."""
    def day(values: list[tuple[int, float]]) -> pd.DataFrame:
        return pd.DataFrame({"person_id": [p for p, _ in values], "score_date": date(2026, 11, 26),
                             "fit_points": 1.0, "grade": "B", "engagement_points": 2.0,
                             "score": [s for _, s in values], "reasons": [["why"]] * len(values), "run_id": "r"})
    cols = ["fit_points", "grade", "engagement_points", "score", "reasons", "run_id"]
    got = []
    for rows in ([(1, 10.0), (2, 20.0)], [(1, 10.0), (2, 20.0), (1, 11.0)]):
        with engine.begin() as c:
            c.execute(scores.delete())
            n = frames.upsert_rows(c, scores, day(rows), conflict=["person_id", "score_date"], update=cols)
            frames.upsert_rows(c, scores, day([(2, 25.0)]), conflict=["person_id", "score_date"], update=cols)
        got.append((n, frames.read_frame(engine, sa.select(scores.c.person_id, scores.c.score, scores.c.reasons)
                                         .order_by(scores.c.person_id)).values.tolist()))
    assert got[0] == (2, [[1, 10.0, ["why"]], [2, 25.0, ["why"]]])
    assert got[1] == (2, [[1, 11.0, ["why"]], [2, 25.0, ["why"]]])


def test_writes_in_parts_count_and_skip_as_one_write(engine: sa.Engine, monkeypatch) -> None:
    """SQLite writes ``EXECUTEMANY_ROWS`` rows at a time (the tuples of a first load's key rows
    would otherwise all be built at once): the rows written and the repeats skipped are what one
    write gives, a repeat in a later part included, and a failure in a later part undoes all."""
    from leadflow.store.schema import person_keys
    monkeypatch.setattr(frames, "EXECUTEMANY_ROWS", 3)
    pairs = [(i % 7, 1) for i in range(10)]            # 7 keys, 3 of them repeated in later parts
    with engine.begin() as c:
        assert frames.copy_upsert(c, person_keys, _keys(pairs), conflict=["key_hash", "person_id"]) == 7
        assert frames.copy_upsert(c, person_keys, _keys([(100 + i, 2) for i in range(8)])) == 8
    assert _count(engine, person_keys) == 15
    with pytest.raises(Exception, match="(?i)unique"), engine.begin() as c:     # the driver's own error
        frames.copy_upsert(c, person_keys, _keys([(200 + i, 3) for i in range(7)] + [(0, 1)]))
    assert _count(engine, person_keys) == 15


def test_values_converted_in_parts_read_back_as_one_write_gives(engine: sa.Engine, monkeypatch) -> None:
    """SQLite turns each part's values into what the driver stores (timestamps as text, JSON,
    integer gaps, missing values) only when it sends that part, so a first load never holds every
    row's Python values at once: what reads back equals what one write stored; ``read_frame``
    fetching a few rows at a time gives the frame of one fetch."""
    md = sa.MetaData()
    t = sa.Table("parts_probe", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("at", sa.DateTime), sa.Column("doc", sa.JSON), sa.Column("n", sa.Integer),
                 sa.Column("ok", sa.Boolean), sa.Column("txt", sa.Text))
    md.create_all(engine)
    try:
        df = pd.DataFrame({
            "id": range(10),
            "at": pd.to_datetime(["2026-11-26 08:00:01.5", None, *(f"2026-11-{d:02d} 09:30:00" for d in range(1, 9))],
                                 format="mixed"),
            "doc": [{"k": i, "l": [i, None]} if i % 3 else None for i in range(10)],
            "n": pd.array([1, None, 3, 4, None, 6, 7, 8, 9, None], dtype="Int64"),
            "ok": [True, False, None, True, True, False, None, True, False, True],
            "txt": ["a", None, "=cmd", "😀", "", "b", None, "c", "d", "e"]})
        got = []
        for rows in (10**6, 3):
            monkeypatch.setattr(frames, "EXECUTEMANY_ROWS", rows)
            with engine.begin() as c:
                c.execute(sa.delete(t))
                assert frames.copy_upsert(c, t, df) == 10
            got.append(frames.read_frame(engine, sa.select(t).order_by(t.c.id)))
        pd.testing.assert_frame_equal(got[0], got[1])
        assert got[1]["doc"].iloc[1] == {"k": 1, "l": [1, None]} and got[1]["n"].isna().sum() == 3
        monkeypatch.setattr(frames, "READ_ROWS", 3)      # read back in parts too: the same frame
        pd.testing.assert_frame_equal(frames.read_frame(engine, sa.select(t).order_by(t.c.id)), got[0])
        assert frames.read_frame(engine, sa.select(t).where(sa.false())).columns.tolist() == list(df.columns)
    finally:
        md.drop_all(engine)


def test_analyze_refreshes_this_warehouse_only_and_waits_for_no_other_schema(engine: sa.Engine) -> None:
    """A bare ``ANALYZE`` locks every table of the database: with another session holding a lock
    in its own schema (a parallel test dropping it), CI deadlocked. ``db.analyze`` refreshes the
    warehouse's tables and waits for nobody else's."""
    if engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE is PostgreSQL's; SQLite plans without it")
    other = f"t_other_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{other}"'))
        c.execute(sa.text(f'CREATE TABLE "{other}".held (x int)'))
    try:
        with admin.connect() as holder:
            holder.begin()
            holder.execute(sa.text(f'LOCK TABLE "{other}".held IN ACCESS EXCLUSIVE MODE'))
            with engine.begin() as c:
                syn.add_people(c, pd.DataFrame({"person_id": [1, 2, 3], "lifecycle_stage": "lead"}))
                c.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                db.analyze(c)
                seen = c.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'people'::regclass")).scalar()
            holder.rollback()
        assert seen == 3
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()


def test_analyze_with_vacuum_clears_what_a_mass_update_left(engine: sa.Engine) -> None:
    """``vacuum=True`` vacuums too (the growth bench's history, as autovacuum would leave it):
    the table's pages become all-visible, which ``ANALYZE`` alone never marks."""
    if engine.dialect.name != "postgresql":
        pytest.skip("VACUUM is PostgreSQL's")
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [1, 2, 3], "lifecycle_stage": "lead"}))
        c.execute(sa.update(people).values(lifecycle_stage="mql"))      # every row leaves a dead version
    visible = "SELECT relallvisible FROM pg_class WHERE oid = 'people'::regclass"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        db.analyze(c)
        assert c.execute(sa.text(visible)).scalar() == 0
        db.analyze(c, vacuum=True)
        assert c.execute(sa.text(visible)).scalar() == 1
