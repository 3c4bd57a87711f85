"""The store on SQLite and PostgreSQL: schema creation, idempotent writes, bulk loads."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.errors import StoreError
from leadflow.store import db
from leadflow.store.schema import ingest_batches, metadata, people, stg_inbound_leads


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
