"""Storage in one place: engines, schema creation, bulk loads and idempotent writes.

Stages never open connections themselves; they take DataFrames and return DataFrames, and
the pipeline uses these helpers to read and write. The same code runs on SQLite (embedded
default) and PostgreSQL (production).
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from leadflow.errors import InfrastructureError, StoreError
from leadflow.store import frames, migrations
from leadflow.store.frames import (  # noqa: F401
    ANY_KEY,
    copy_update,
    copy_upsert,
    fill_empty,
    id_filters,
    insert_new,
    read_frame,
    read_ids,
    read_table,
    read_values,
    stage,
    upsert_rows,
    with_derived,
)
from leadflow.store.schema import metadata

_ENGINES: dict[str, Engine] = {}
MIN_SQLITE = (3, 35, 0)   # RETURNING (3.35) and UPDATE ... FROM (3.33)


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
    if url.startswith("sqlite") and sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(f"SQLite {'.'.join(map(str, MIN_SQLITE))} or newer is required "
                         f"(UPDATE ... FROM, RETURNING); this Python has {sqlite3.sqlite_version}")
    try:
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                from pathlib import Path
                try:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise InfrastructureError(f"warehouse path {path}: cannot create its folder "
                                              f"({e.strerror or type(e).__name__})") from None
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
        orig = str(getattr(e, "orig", e)).strip()
        reason = orig.splitlines()[0] if orig else type(e).__name__
        raise StoreError(f"cannot reach the warehouse at {_redact(str(eng.url))}: {reason}") from None


#: OSErrors that are the file system's (not a network peer's) even when no file is named.
_FS_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM,
              errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EMFILE, errno.ENFILE}


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def infra_error(e: BaseException, eng: Engine | None = None) -> InfrastructureError | None:
    """The one-line error for an infrastructure failure, or None when ``e`` is not one.

    Warehouse: lost connections, a terminated backend, disk or database full, a file it cannot
    open (SQLAlchemy ``OperationalError``/``InterfaceError``). Files: an ``OSError`` that names a
    file or is a file-system error (disk full, read-only, permission). Bound parameters never
    appear (engines hide them); the message names the warehouse or the file.
    """
    if isinstance(e, InfrastructureError):
        return e
    if isinstance(e, (OperationalError, sa.exc.InterfaceError)) or (
            isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated):
        url = str(eng.url) if eng is not None else (next(reversed(_ENGINES)) if _ENGINES else "")
        where = f"warehouse {_redact(url)}" if url else "warehouse"
        return InfrastructureError(f"{where}: {_first_line(e)}")
    if isinstance(e, OSError) and (e.filename or e.errno in _FS_ERRNOS):
        name = e.filename or "file system"
        other = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
        return InfrastructureError(f"{name}{other}: {e.strerror or _first_line(e)}")
    return None


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


def analyze(conn: Connection, vacuum: bool = False) -> None:
    """Refresh PostgreSQL's statistics for the warehouse's own tables, after a bulk load;
    with ``vacuum``, ``VACUUM (ANALYZE)``, which also clears the dead row versions a mass update
    leaves behind (as autovacuum would; the connection must be in autocommit mode).

    Only the tables of the connection's schema: a bare ``ANALYZE`` locks every table in the
    database, other schemas' included, and deadlocks with a session dropping its schema."""
    if not is_postgres(conn):
        return
    names = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                                 " ORDER BY tablename")).scalars().all()
    for name in names:
        conn.exec_driver_sql(f'{"VACUUM (ANALYZE)" if vacuum else "ANALYZE"} "{name}"')


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


def bulk_insert(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Append rows (see ``frames.copy_upsert``). Returns rows written."""
    return int(frames.copy_upsert(conn, table, df))


def insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
                  conflict: Iterable[str]) -> int:
    """Insert rows, skipping those whose unique key already exists. Returns rows inserted.

    This is the idempotent write every stage uses: re-runs, retries and concurrent runs hit
    the unique key and insert nothing twice.
    """
    if not rows:
        return 0
    return int(frames.copy_upsert(conn, table, pd.DataFrame(rows), conflict=list(conflict)))


def insert_ignore_any(conn: Connection, table: sa.Table, rows: list[dict[str, Any]] | pd.DataFrame) -> int:
    """Insert rows, skipping those that collide with ANY unique key of the table (ON CONFLICT
    DO NOTHING without a target, on both backends): one staged ``INSERT ... SELECT``, whatever
    the number of rows. Returns rows inserted."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if frame.empty:
        return 0
    return int(frames.copy_upsert(conn, table, frame, conflict=ANY_KEY))


def upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]],
           conflict: Iterable[str], update: Iterable[str]) -> None:
    """Insert or update the given columns on key conflict."""
    if rows:
        frames.copy_upsert(conn, table, pd.DataFrame(rows), conflict=list(conflict), update=list(update))


read_df = frames.read_frame
