"""Helpers to stage rows directly (tests and the benchmark): a batch plus its ``stg_*`` rows."""

from __future__ import annotations

import uuid
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadflow.canonical import FIELDS
from leadflow.store import db
from leadflow.store.schema import STAGING, ingest_batches


def stage(engine: Engine, kind: str, source: str, rows: pd.DataFrame,
          loaded_at: datetime = datetime(2026, 11, 26, 8, 0)) -> int:
    """Insert an ``ingest_batches`` row and ``rows`` as landed staging rows; returns the batch id.

    ``rows`` holds canonical columns (others are dropped); row numbers are 1..n unless given.
    """
    with engine.begin() as conn:
        res = conn.execute(sa.insert(ingest_batches).values(
            source=source, kind=kind, uri=f"test://{source}", content_hash=uuid.uuid4().hex,
            rows_in=len(rows), rows_landed=len(rows), rows_rejected=0, status="landed",
            loaded_at=loaded_at).returning(ingest_batches.c.batch_id))
        batch_id = int(res.scalar_one())
        df = rows[[c for c in rows.columns if c in FIELDS[kind] or c in ("row_number", "attributes")]].copy()
        if "row_number" not in df.columns:
            df["row_number"] = range(1, len(df) + 1)
        df["source"], df["batch_id"], df["loaded_at"], df["state"] = source, batch_id, loaded_at, "landed"
        db.bulk_insert(conn, STAGING[kind], df)
    return batch_id


def states(engine: Engine, kind: str) -> pd.Series:
    """Count of staging rows per state."""
    t = STAGING[kind]
    df = db.read_df(engine, sa.select(t.c.state, sa.func.count().label("n")).group_by(t.c.state))
    return df.set_index("state")["n"] if not df.empty else pd.Series(dtype="int64")
