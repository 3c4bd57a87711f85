"""Shared helpers for the identity tests: land rows as 'passed' staging rows, a config."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow.canonical import FIELDS
from leadflow.store import db
from leadflow.store.schema import ingest_batches, stg_inbound_leads, stg_touches

LOADED_AT = datetime(2026, 11, 26, 8, 0)

CONFIG: dict[str, Any] = {
    "sources": [
        {"name": "crm", "owner": "ops", "kind": "inbound_leads", "priority": 5,
         "connector": {"type": "file", "path": "landing/crm"}},
        {"name": "web", "owner": "ops", "kind": "inbound_leads", "priority": 50,
         "connector": {"type": "file", "path": "landing/web"}},
        {"name": "events", "owner": "ops", "kind": "touches",
         "connector": {"type": "file", "path": "landing/events"}},
    ],
}


# Two strangers who typed one filler address (identity reads it as no address: vocab.mailboxes)
STRANGERS_BEHIND_A_FILLER: list[dict[str, Any]] = [
    {"source_record_id": "f1", "email": "noemail@gmail.com", "first_name": "Ann", "last_name": "Lee",
     "phone": "+44 20 7946 0001"},
    {"source_record_id": "f2", "email": "NoEmail@gmail.com", "first_name": "Bob", "last_name": "Stone",
     "phone": "+44 20 7946 0002"},
]

def land(engine: sa.Engine, rows: list[dict[str, Any]] | pd.DataFrame, source: str = "web",
         kind: str = "inbound_leads", state: str = "passed") -> int:
    """Insert one ingest batch and its staging rows (state 'passed'); returns the batch id."""
    df = pd.DataFrame(rows).copy()
    table = stg_inbound_leads if kind == "inbound_leads" else stg_touches
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source=source, kind=kind, uri=f"{source}.csv", content_hash=uuid.uuid4().hex,
            rows_in=len(df), rows_landed=len(df), status="landed", loaded_at=LOADED_AT)
        ).inserted_primary_key[0]
        for name in FIELDS[kind]:
            if name not in df.columns:
                df[name] = None
        df = df[[c_ for c_ in df.columns if c_ in table.c]]
        df = df.assign(source=source, batch_id=bid, row_number=range(1, len(df) + 1),
                       loaded_at=LOADED_AT, state=state)
        for col, typ in FIELDS[kind].items():
            if typ == "datetime" and col in df:
                df[col] = pd.to_datetime(df[col])
        db.bulk_insert(c, table, df)
    return int(bid)


def count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar())


def key_rows(conn: Any, person_id: int | None = None) -> dict[str, int]:
    """Blocking-key rows (of one person, or all) per key table: ``person_keys`` and
    ``person_keys_recent`` (identity.store.KEY_TABLES)."""
    from leadflow.identity.store import KEY_TABLES
    out = {}
    for t in KEY_TABLES:
        q = sa.select(sa.func.count()).select_from(t)
        out[t.name] = int(conn.execute(q if person_id is None else q.where(t.c.person_id == person_id)).scalar_one())
    return out
