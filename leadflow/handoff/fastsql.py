"""Set-based SQL helpers for large batches (100k+ people) on SQLite and PostgreSQL.

On PostgreSQL, statements with thousands of bind parameters are slow to build and parse
(``IN (...)`` lists, multi-row ``INSERT ... VALUES``), so id filters become ``= ANY(array)`` (one
parameter) and idempotent inserts go through ``COPY`` into a temporary table followed by one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``. On SQLite the plain forms are fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from leadflow.store import db

_CHUNK = 5000
_seq = itertools.count()


def id_filters(conn: Connection | sa.Engine, col: sa.ColumnElement[Any],
               ids: Sequence[int]) -> Iterator[sa.ColumnElement[bool]]:
    """WHERE clauses covering ``ids``: one ``= ANY(array)`` on PostgreSQL, IN-chunks on SQLite."""
    ids = [int(x) for x in ids]
    if not ids:
        return
    if db.is_postgres(conn):
        yield col == sa.any_(sa.bindparam(f"ids_{next(_seq)}", ids, type_=postgresql.ARRAY(sa.BigInteger)))
        return
    for i in range(0, len(ids), _CHUNK):
        yield col.in_(ids[i:i + _CHUNK])


def read_ids(conn: Connection | sa.Engine, query: sa.Select, col: sa.ColumnElement[Any],
             ids: Sequence[int]) -> pd.DataFrame:
    """``query`` restricted to ``col`` in ``ids``, as one DataFrame."""
    frames = [db.read_df(conn, query.where(f)) for f in id_filters(conn, col, ids)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return db.read_df(conn, query.where(sa.false()))
    return pd.concat(frames, ignore_index=True)


def insert_ignore_returning(conn: Connection, table: sa.Table, df: pd.DataFrame,
                            conflict: Iterable[str], returning: str) -> list[Any]:
    """Insert rows, skipping unique-key conflicts; returns ``returning`` of the rows inserted.

    Rows are inserted in the frame's order (sort it by the key so concurrent writers take locks
    in the same order).
    """
    if df.empty:
        return []
    cols = [c for c in df.columns if c in table.c]
    conflict = list(conflict)
    if db.is_postgres(conn):
        tmp_name = f"tmp_{table.name}_{next(_seq)}"
        conn.execute(sa.text(f'CREATE TEMP TABLE "{tmp_name}" (LIKE "{table.name}" INCLUDING DEFAULTS, '
                             f'"_ord" BIGINT) ON COMMIT DROP'))
        _copy_csv(conn, tmp_name, df[cols].assign(_ord=range(len(df))))
        col_sql = ", ".join(f'"{c}"' for c in cols)
        res = conn.execute(sa.text(
            f'INSERT INTO "{table.name}" ({col_sql}) SELECT {col_sql} FROM "{tmp_name}" ORDER BY "_ord" '
            f'ON CONFLICT ({", ".join(conflict)}) DO NOTHING RETURNING "{returning}"'))
        out = [r[0] for r in res]
        conn.execute(sa.text(f'DROP TABLE "{tmp_name}"'))
        return out
    from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=conflict).returning(table.c[returning])
    recs = db.records(df, cols)
    out: list[Any] = []
    for i in range(0, len(recs), _CHUNK):
        out += [r[0] for r in conn.execute(stmt, recs[i:i + _CHUNK])]
    return out


def _copy_csv(conn: Connection, table_name: str, df: pd.DataFrame) -> None:
    """COPY a frame into a table as CSV (pandas writes it; no per-value Python conversion).

    Empty unquoted fields are NULL; dict/list cells are JSON text.
    """
    import io
    import json
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            has_json = out[c].map(lambda v: isinstance(v, (dict, list))).any()
            if has_json:
                out[c] = out[c].map(lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
    buf = io.StringIO()
    out.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    col_sql = ", ".join(f'"{c}"' for c in out.columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f'COPY "{table_name}" ({col_sql}) FROM STDIN (FORMAT csv)') as cp:
            cp.write(buf.getvalue())
