"""Storage in one place: engines, schema creation, bulk loads and idempotent writes.

Stages never open connections themselves; they take DataFrames and return DataFrames, and
the pipeline uses these helpers to read and write. The same code runs on SQLite (embedded
default) and PostgreSQL (production).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from leadflow.errors import StoreError
from leadflow.store import migrations
from leadflow.store.schema import metadata

_ENGINES: dict[str, Engine] = {}


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def engine(url: str) -> Engine:
    """A cached engine; SQLite gets WAL and a busy timeout so concurrent runs wait, not fail.

    ``hide_parameters``: bound values are lead data, so SQL errors never quote them.
    """
    if url in _ENGINES:
        return _ENGINES[url]
    try:
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                from pathlib import Path
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            eng = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=OFF")
                cur.close()
        else:
            eng = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError) as e:
        raise StoreError(f"invalid database URL {_redact(url)}: {e}") from None
    _ENGINES[url] = eng
    return eng


def check(eng: Engine) -> None:
    """Fail with one line when the warehouse is unreachable."""
    try:
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except (OperationalError, SQLAlchemyError) as e:
        reason = str(getattr(e, "orig", e)).strip().splitlines()[0] if str(getattr(e, "orig", e)).strip() else type(e).__name__
        raise StoreError(f"cannot reach the warehouse at {_redact(str(eng.url))}: {reason}") from None


def init(eng: Engine) -> list[str]:
    """Bring the warehouse schema to this leadflow's revision (idempotent); returns the table names.

    Goes through the migrations (``leadflow.store.migrations.upgrade``), like ``airflow db
    migrate``: a new warehouse gets every revision, an older one the missing ones.
    """
    check(eng)
    migrations.upgrade(eng)
    return sorted(metadata.tables)


def require_schema(eng: Engine) -> None:
    """Refuse to run against a warehouse whose schema revision is not this leadflow's head."""
    check(eng)
    problem = migrations.problem(eng)
    if problem:
        raise StoreError(problem)


@contextmanager
def transaction(eng: Engine) -> Iterator[Connection]:
    with eng.begin() as conn:
        yield conn


def is_postgres(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "postgresql"


def _py(v: Any) -> Any:
    """numpy / pandas scalars to plain Python, NaN/NaT to None."""
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and np.isnan(v) else v
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def records(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values (for executemany)."""
    cols = list(columns) if columns is not None else list(df.columns)
    values = [_column_values(df[c]) for c in cols]
    return [dict(zip(cols, row)) for row in zip(*values)]


def _column_values(col: pd.Series) -> list[Any]:
    """One column as plain Python values, converted per column (not per cell) where possible."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"   # extension dtypes: generic
    if kind in "iub":                                   # numpy ints/bools: never missing
        return col.tolist()
    if kind == "f":
        arr = col.to_numpy()
        out = arr.tolist()
        if np.isnan(arr).any():
            out = [None if v != v else v for v in out]
        return out
    if kind == "M":                                     # datetime64: NaT -> None
        return [None if v is pd.NaT else v.to_pydatetime() for v in col.tolist()]
    missing = col.isna().to_numpy()
    out = col.astype(object).tolist()
    if missing.any() or any(isinstance(v, (np.generic, pd.Timestamp)) for v in out):
        out = [None if m else _py(v) for v, m in zip(out, missing)]
    return out


def _copy_value(v: Any) -> Any:
    v = _py(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return v


def _coerce_to_table(df: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Make integer columns whole numbers (pandas turns int columns with gaps into floats)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(table.c[c].type, sa.Integer) and out[c].dtype.kind == "f":
            out[c] = out[c].round().astype("Int64")
    return out


def bulk_insert(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Append rows fast: COPY on PostgreSQL, executemany on SQLite. Returns rows written."""
    if df.empty:
        return 0
    cols = [c for c in df.columns if c in table.c]
    df = _coerce_to_table(df[cols], table)
    if is_postgres(conn):
        raw = conn.connection.driver_connection  # psycopg 3 connection
        col_sql = ", ".join(f'"{c}"' for c in cols)
        with raw.cursor() as cur:
            with cur.copy(f'COPY "{table.name}" ({col_sql}) FROM STDIN') as cp:
                arrays = [df[c].astype(object).to_numpy() for c in cols]
                for row in zip(*arrays):
                    cp.write_row([_copy_value(v) for v in row])
        return len(df)
    conn.execute(table.insert(), records(df, cols))
    return len(df)


def insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
                  conflict: Iterable[str]) -> int:
    """Insert rows, skipping those whose unique key already exists. Returns rows inserted.

    This is the idempotent write every stage uses: re-runs, retries and concurrent runs hit
    the unique key and insert nothing twice.
    """
    if not rows:
        return 0
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    pk = list(table.primary_key.columns)[:1]
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(*pk)
    total = 0
    for i in range(0, len(rows), 5000):
        # RETURNING counts what was really inserted (rowcount is unreliable for executemany).
        total += len(conn.execute(stmt, rows[i:i + 5000]).all())
    return total


def upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
           conflict: Iterable[str], update: Iterable[str]) -> None:
    """Insert or update the given columns on key conflict."""
    if not rows:
        return
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict),
                                      set_={c: stmt.excluded[c] for c in update})
    for i in range(0, len(rows), 5000):
        conn.execute(stmt, rows[i:i + 5000])


def read_df(conn: Connection | Engine, query: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a select (SQLAlchemy or text) and return a DataFrame."""
    if isinstance(query, str):
        query = sa.text(query)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_df(c, query, params)
    res = conn.execute(query, params or {})
    keys = list(res.keys())
    rows = res.fetchall()
    if not rows:
        return pd.DataFrame(columns=keys)
    # Build columns from plain tuples: pandas probes each SQLAlchemy Row object otherwise.
    cols = list(zip(*(tuple(r) for r in rows)))
    return pd.DataFrame({i: pd.Series(c, dtype=object) if _needs_object(c) else list(c)
                         for i, c in enumerate(cols)}).set_axis(keys, axis=1)


def _needs_object(values: tuple[Any, ...]) -> bool:
    """Keep dict/list (JSON) columns as objects rather than letting pandas expand them."""
    return any(isinstance(v, (dict, list)) for v in values[:50])
