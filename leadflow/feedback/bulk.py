"""Set-based writes and keyed reads for the feedback step, via session temporary tables.

Why: 100k+ outcomes per run. Row-at-a-time statements (``UPDATE ... WHERE id = ?`` per row,
executemany with RETURNING, ``IN (...)`` lists of thousands of binds) cost tens of seconds,
mostly in statement building and parsing on PostgreSQL. Instead a frame is *staged* into a
temporary table (``COPY`` on PostgreSQL, one executemany of plain tuples on SQLite) and applied
with one statement: ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, ``UPDATE ... FROM``, or a
read joined to the staged keys. The SQL is the same on both backends (SQLite >= 3.33 has
``UPDATE ... FROM``; older SQLite gets the equivalent correlated-subquery form).
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from leadflow.store import db

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime text; PostgreSQL parses it too
SQLITE_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _plain(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Columns as plain values: timestamps as text in TS_FORMAT, missing values as None."""
    out = pd.DataFrame(index=range(len(df)))
    for c, t in types.items():
        s = df[c].reset_index(drop=True)
        if t == "TIMESTAMP":
            s = pd.to_datetime(s).dt.strftime(TS_FORMAT)
        elif t in ("BIGINT", "INTEGER") and s.dtype.kind == "f":
            s = s.round().astype("Int64")
        out[c] = s.astype(object).where(s.notna(), None)
    return out


def stage(conn: Connection, name: str, df: pd.DataFrame, types: dict[str, str],
          key: Sequence[str] | None = None, analyze: bool = True) -> str:
    """Create (or replace) temporary table ``name`` with ``types`` ({column: SQL type}) and fill it.

    ``key`` adds an index (used for joins on SQLite); ``analyze`` gives PostgreSQL statistics
    (skip it for a table that is only scanned once, e.g. the source of an INSERT). Drop it with ``drop`` when done; on
    PostgreSQL it also goes at commit. Returns the quoted table name.
    """
    t = _q(name)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    cols = ", ".join(f"{_q(c)} {ty}" for c, ty in types.items())
    pg = db.is_postgres(conn)
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {t} ({cols})" + (" ON COMMIT DROP" if pg else ""))
    if len(df):
        plain = _plain(df, types)
        col_sql = ", ".join(_q(c) for c in types)
        if pg:
            buf = io.StringIO()
            # CSV: an empty field is NULL (so is an empty string: callers normalise '' to missing).
            plain.to_csv(buf, index=False, header=False)
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {t} ({col_sql}) FROM STDIN (FORMAT csv)") as cp:
                cp.write(buf.getvalue())
        else:
            marks = ", ".join("?" for _ in types)
            rows = list(zip(*(plain[c].to_numpy() for c in types)))
            conn.exec_driver_sql(f"INSERT INTO {t} ({col_sql}) VALUES ({marks})", rows)
    if key:
        conn.exec_driver_sql(f"CREATE INDEX {_q('ix_' + name)} ON {t} ({', '.join(_q(k) for k in key)})")
    if pg and analyze:
        conn.exec_driver_sql(f"ANALYZE {t}")  # temp tables have no statistics otherwise
    return t


def drop(conn: Connection, *names: str) -> None:
    for n in names:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(n)}")


def update_from(conn: Connection, table: str, tmp: str, keys: Sequence[str],
                set_cols: Sequence[str], where: str = "") -> int:
    """``UPDATE table SET c = tmp.c ... FROM tmp WHERE keys match [AND where]``; rows updated.

    ``where`` may refer to the target as ``table`` (its real name) and to the staged rows as
    ``s``.
    """
    t, s = _q(table), _q(tmp)
    on = " AND ".join(f"{t}.{_q(k)} = s.{_q(k)}" for k in keys)
    extra = f" AND ({where})" if where else ""
    if db.is_postgres(conn) or SQLITE_UPDATE_FROM:
        sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in set_cols)
        sql = f"UPDATE {t} SET {sets} FROM {s} AS s WHERE {on}{extra}"
    else:  # SQLite < 3.33: the same update as correlated subqueries
        sets = ", ".join(f"{_q(c)} = (SELECT s.{_q(c)} FROM {s} AS s WHERE {on})" for c in set_cols)
        sql = f"UPDATE {t} SET {sets} WHERE EXISTS (SELECT 1 FROM {s} AS s WHERE {on}{extra})"
    return int(conn.exec_driver_sql(sql).rowcount)


def insert_select_ignore(conn: Connection, table: str, tmp: str, cols: Sequence[str],
                         conflict: Sequence[str], order_by: str | None = None) -> int:
    """``INSERT INTO table (cols) SELECT cols FROM tmp ON CONFLICT (conflict) DO NOTHING``.

    Returns the rows really inserted (re-runs hit the unique key and insert nothing). Rows go
    in ``order_by`` order so concurrent writers take key locks in the same order.
    """
    col_sql = ", ".join(_q(c) for c in cols)
    order = f" ORDER BY {_q(order_by)}" if order_by else ""
    # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    sql = (f"INSERT INTO {_q(table)} ({col_sql}) SELECT {col_sql} FROM {_q(tmp)} WHERE 1 = 1{order} "
           f"ON CONFLICT ({', '.join(_q(c) for c in conflict)}) DO NOTHING")
    return int(conn.exec_driver_sql(sql).rowcount)


def ids_frame(values: Any, name: str) -> pd.DataFrame:
    """Distinct non-null integer ids as a one-column frame (for staging keys)."""
    arr = pd.Series(values).dropna()
    return pd.DataFrame({name: np.unique(arr.astype("int64").to_numpy())})
