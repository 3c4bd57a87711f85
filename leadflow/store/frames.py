"""Frames in and out of the warehouse: the one place reads and bulk writes are made fast.

- ``read_frame``: a query as a DataFrame, built column-wise from the result tuples (a frame
  from SQLAlchemy Row objects costs ~0.2 s per 50k rows); money (``Numeric``) comes back as
  float on both backends.
- ``read_columns``: some columns of many rows of one table, columnar through pyarrow (SQLite:
  one JSON-lines text from ``json_object``; PostgreSQL: ``COPY TO``), about half the CPU of
  ``read_frame`` for wide reads; falls back to it when SQLite holds a value against its type.
- ``copy_upsert``: append, insert-ignore or upsert a DataFrame on a unique key, optionally
  returning a column of the rows written. PostgreSQL: COPY (CSV written by pyarrow's C++
  writer) into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT``; statements
  with thousands of bind parameters are slow to build and parse there. SQLite: one driver-level
  ``executemany`` of plain tuples, or a staged temporary table when rows must be returned.
- ``copy_update``: ``UPDATE ... FROM`` a staged frame, keyed.
- ``stage``: a frame as a temporary table, for set-based joins (``read_ids`` and ``id_filters``
  filter by large id lists: one ``= ANY(array)`` parameter on PostgreSQL, IN chunks on SQLite;
  ``read_values`` does the same for text keys).

Every column is converted once, vectorised, to what the driver stores (SQLAlchemy's own text
formats on SQLite), so rows written here read back through the normal SQLAlchemy types.
Missing values (None, NaN, NaT, pd.NA) become NULL; integer columns with gaps (floats in pandas)
are written as whole numbers; columns the frame lacks get the table's scalar Python defaults.
"""

from __future__ import annotations

import gc
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from leadflow.vocab.emails import email_hash

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"   # SQLAlchemy's SQLite DateTime text; PostgreSQL parses it too
_COPY_ROWS = 50_000                  # rows per CSV slice sent to COPY
READ_ROWS = 50_000                   # rows fetched at a time by read_frame (a first load reads 1M people back)
_seq = itertools.count()


def _pg(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ----------------------------------------------------------------------------- reading
def read_frame(conn: Connection | Engine, query: str | sa.Executable,
               params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run a select (SQLAlchemy or SQL text with ``:name`` parameters) and return a DataFrame.

    Columns keep the query's names even when no row comes back; JSON columns stay dicts/lists;
    Decimal columns become float.
    """
    if isinstance(query, str):
        query = sa.text(query)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return read_frame(c, query, params)
    res = conn.execute(query, dict(params or {}))
    keys = list(res.keys())
    columns: list[list[Any]] = [[] for _ in keys]
    for part in res.partitions(READ_ROWS):     # row objects for one part at a time, not all
        for col, values in zip(columns, zip(*part)):
            col.extend(values)
    if not keys or not columns[0]:
        return pd.DataFrame({k: pd.Series(dtype=object) for k in keys}, columns=keys)
    return _frame_of(columns, keys)


def _frame_of(columns: Sequence[Sequence[Any]], keys: list[str]) -> pd.DataFrame:
    """A frame from per-column Python values, typed as ``_column`` decides (JSON kept as
    objects, Decimal as float): one construction for the row and the columnar readers."""
    data = {i: _column(c) for i, c in enumerate(columns)}
    return pd.DataFrame(data).set_axis(keys, axis=1)


def _column(values: Sequence[Any]) -> Any:
    sample = [v for v in values[:50] if v is not None]
    if any(isinstance(v, (dict, list)) for v in sample):
        return pd.Series(values, dtype=object)       # JSON: keep objects, never expand them
    if sample and all(isinstance(v, Decimal) for v in sample):
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")
    return values if isinstance(values, list) else list(values)


def read_columns(conn: Connection, table: sa.Table, columns: Sequence[str], where: str = "",
                 params: Mapping[str, int] | None = None, order_by: Sequence[str] = (),
                 limit: int | None = None) -> pd.DataFrame:
    """Some columns of ``table``'s rows matching ``where`` (SQL, integer ``:name`` parameters),
    built through pyarrow instead of one Python object per value: for wide reads of many rows.

    SQLite: the rows come back as one JSON-lines text (``json_object`` per row, joined by
    ``group_concat``) that pyarrow parses with the columns' types; PostgreSQL: ``COPY ... TO
    STDOUT`` as CSV, parsed by pyarrow. Text as strings, numbers as numbers, timestamps as
    stored (SQLite text; PostgreSQL timestamps), booleans as 0/1 (SQLite) or booleans. A value
    that does not fit its column's type (SQLite keeps what it is given) falls back to
    ``read_frame``, whose result this equals. Sorted by ``order_by``.
    """
    cols = list(columns)
    inner = select_sql(table, cols, where, params or {}, order_by, limit)
    try:
        df = _copy_out(conn, inner, table, cols) if _pg(conn) else _json_lines(conn, inner, table, cols)
    except (ValueError, TypeError, sa.exc.OperationalError):   # pyarrow's ArrowInvalid is a ValueError
        df = read_frame(conn, inner)[cols]
    if order_by and len(df) > 1:
        df = df.sort_values(list(order_by), kind="stable", ignore_index=True)
    return df


def read_table(conn: Connection, table: sa.Table, where: str = "", order_by: Sequence[str] = (),
               columns: Sequence[str] | None = None, chunk: int = 200_000) -> pd.DataFrame:
    """What ``read_frame`` gives for ``SELECT columns FROM table WHERE where ORDER BY order_by``,
    value for value and dtype for dtype, built columnar: the rows come through ``read_columns``
    and each column becomes the Python values SQLAlchemy would have made (timestamps,
    booleans, decoded JSON) in one pass per column, not one call per value.

    Why: a first load reads a million staged rows; SQLAlchemy's per-value result processing
    (a timestamp parsed, a JSON document decoded per row) was most of that read. Ordered by
    integer columns it reads ``chunk`` rows at a time (keyset: after the last key read), so no
    single SQLite text holds a million rows."""
    cols = list(columns or [c.name for c in table.c])
    rows = sa.select(*(table.c[c] for c in cols)).where(sa.text(where) if where else sa.true()) \
        .order_by(*(table.c[o] for o in order_by))           # the row reader's query
    df = _read_in_chunks(conn, table, cols, where, list(order_by), chunk)
    if df.empty:
        return read_frame(conn, rows.limit(0))
    try:
        values = [_python_values(df[c], table.c[c].type) for c in cols]
    except (ValueError, TypeError):          # a value SQLite kept though it does not fit its type
        return read_frame(conn, rows)
    return _frame_of(values, cols)


def _read_in_chunks(conn: Connection, table: sa.Table, cols: list[str], where: str, order_by: list[str],
                    chunk: int) -> pd.DataFrame:
    """``read_columns`` of the rows, ``chunk`` at a time after the last key when the order is by
    integer columns the read carries; else in one read."""
    keyset = bool(order_by) and set(order_by) <= set(cols) and \
        all(isinstance(table.c[o].type, sa.Integer) for o in order_by)
    if not keyset:
        return read_columns(conn, table, cols, where, order_by=order_by)
    parts: list[pd.DataFrame] = []
    key = ", ".join(_q(o) for o in order_by)
    while True:
        cond = where or "1 = 1"
        if parts:
            last = ", ".join(str(int(v)) for v in parts[-1][order_by].iloc[-1])
            cond = f"({cond}) AND ({key}) > ({last})"
        part = read_columns(conn, table, cols, cond, order_by=order_by, limit=chunk)
        if len(part) or not parts:        # an empty last part would make pandas re-type columns
            parts.append(part)
        if len(part) < chunk:
            return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _python_values(s: pd.Series, t: sa.types.TypeEngine) -> list[Any]:
    """A ``read_columns`` column as the Python values SQLAlchemy returns for its type."""
    missing = s.isna().to_numpy()
    if isinstance(t, sa.JSON):
        text = s.astype(object).where(~missing, "null")
        vals = json.loads("[" + ",".join(text.tolist()) + "]") if len(text) else []
    elif isinstance(t, sa.Boolean):
        vals = s.astype("boolean").astype(object).tolist()
    elif isinstance(t, sa.Integer):
        vals = s.astype("Int64").astype(object).tolist()
    elif isinstance(t, (sa.DateTime, sa.Date)):
        ts = pd.to_datetime(s, format="ISO8601") if s.dtype.kind != "M" else s
        vals = list(ts.dt.date if isinstance(t, sa.Date) else ts.dt.to_pydatetime())
    elif isinstance(t, (sa.Float, sa.Numeric)):
        vals = s.astype("float64").tolist()
    else:
        vals = s.astype(object).tolist()
    if not missing.any() or isinstance(t, sa.JSON):      # JSON: "null" decoded to None already
        return vals
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    out[missing] = None
    return list(out)


def select_sql(table: sa.Table, cols: list[str], where: str = "", params: Mapping[str, int] | None = None,
               order_by: Sequence[str] = (), limit: int | None = None) -> str:
    """The ``SELECT`` that ``read_columns`` runs (integer parameters inlined)."""
    sql = f"SELECT {', '.join(_q(c) for c in cols)} FROM {_q(table.name)}"
    if where:
        for k, v in (params or {}).items():             # integers only: safe to inline
            where = where.replace(f":{k}", str(int(v)))
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDER BY {', '.join(_q(c) for c in order_by)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def _arrow_type(t: sa.types.TypeEngine, pg: bool) -> Any:
    import pyarrow as pa
    if isinstance(t, sa.Boolean):
        return pa.bool_() if pg else pa.int64()
    if isinstance(t, sa.Integer):
        return pa.int64()
    if isinstance(t, (sa.Float, sa.Numeric)):
        return pa.float64()
    if isinstance(t, sa.DateTime) and pg:
        return pa.timestamp("us")
    if isinstance(t, sa.Date) and pg:
        return pa.date32()
    return pa.string()


def _to_frame(tbl: Any, cols: list[str]) -> pd.DataFrame:
    df = tbl.to_pandas(split_blocks=True, self_destruct=True)
    return df.set_axis(cols, axis=1)


def _json_lines(conn: Connection, inner: str, table: sa.Table, cols: list[str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pajson
    pairs = ", ".join(f"'c{i}', {_q(c)}" for i, c in enumerate(cols))
    text = conn.exec_driver_sql(f"SELECT group_concat(json_object({pairs}), char(10)) FROM ({inner})").scalar()
    schema = pa.schema([(f"c{i}", _arrow_type(table.c[c].type, False)) for i, c in enumerate(cols)])
    if not text:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}, columns=cols)
    tbl = pajson.read_json(io.BytesIO(text.encode()), parse_options=pajson.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="error"))
    return _to_frame(tbl, cols)


def _copy_out(conn: Connection, inner: str, table: sa.Table, cols: list[str]) -> pd.DataFrame:
    import pyarrow.csv as pacsv
    raw = conn.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    buf = io.BytesIO()
    with raw.cursor() as cur, cur.copy(f"COPY ({inner}) TO STDOUT WITH (FORMAT csv)") as cp:
        for part in cp:
            buf.write(part)
    if not buf.tell():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}, columns=cols)
    buf.seek(0)
    types = {c: _arrow_type(table.c[c].type, True) for c in cols}
    tbl = pacsv.read_csv(buf, read_options=pacsv.ReadOptions(column_names=cols),
                         convert_options=pacsv.ConvertOptions(
                             column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
                             true_values=["t"], false_values=["f"], null_values=[""]))
    return _to_frame(tbl, cols)


def id_filters(conn: Connection | Engine, col: sa.ColumnElement[Any],
               ids: Sequence[Any]) -> Iterator[sa.ColumnElement[bool]]:
    """WHERE clauses covering ``ids``: one ``= ANY(array)`` on PostgreSQL, one ``IN json_each``
    on SQLite (``_json_in``)."""
    ids = [int(x) for x in ids]
    if not ids:
        return
    if _pg(conn):
        yield col == sa.any_(_pg_array("ids", "{" + ",".join(map(str, ids)) + "}", sa.BigInteger))
        return
    yield _json_in(col, ids)


def _pg_array(name: str, literal: str, element: type[sa.types.TypeEngine[Any]]) -> sa.ColumnElement[Any]:
    """One PostgreSQL array parameter sent as its text literal and cast on the server: psycopg
    dumps a Python list element by element (1.5 s of a 100k-lead first load's 220k looked-up
    values); the literal is one string. The plan is the same ``= ANY(array)`` index search; the
    cast sits in a scalar subquery, since a bare text-to-array cast is not folded into a
    constant and a scan would parse the whole literal again for every row."""
    arr = sa.cast(sa.bindparam(f"{name}_{next(_seq)}", literal, type_=sa.Text), postgresql.ARRAY(element))
    # parsed once (an InitPlan), not once per row scanned; the outer cast makes
    # ``ANY (CAST((SELECT ...) AS t[]))`` an array expression, not ``ANY (subquery)``
    return sa.cast(sa.select(arr).scalar_subquery(), postgresql.ARRAY(element))


def _text_array_literal(values: list[str]) -> str:
    """``{"a","b"}``: every element quoted, backslash and double quote escaped (PostgreSQL's
    array input syntax), so commas, braces, quotes and spaces in a value stay that value."""
    quoted = pd.Series(values, dtype=object).str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
    return '{"' + '","'.join(quoted) + '"}' if len(quoted) else "{}"


def _json_in(col: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
    """SQLite: ``col IN (SELECT value FROM json_each(?))`` with the values as one JSON text
    parameter, so any number of them costs one bound value (no statement with thousands of
    placeholders to compile, no chunks), and the index on ``col`` is still searched per value."""
    vals = sa.func.json_each(sa.bindparam(f"json_{next(_seq)}", json.dumps(values), type_=sa.Text))
    return col.in_(sa.select(vals.table_valued("value").c.value))


def read_ids(conn: Connection | Engine, query: sa.Select, col: sa.ColumnElement[Any],
             ids: Sequence[Any]) -> pd.DataFrame:
    """``query`` restricted to ``col`` in ``ids`` (any number of them), as one DataFrame."""
    frames = [f for f in (read_frame(conn, query.where(w)) for w in id_filters(conn, col, ids))
              if not f.empty]
    if not frames:
        return read_frame(conn, query.where(sa.false()))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_values(conn: Connection | Engine, query: sa.Select, col: sa.ColumnElement[Any],
                values: Iterable[Any]) -> pd.DataFrame:
    """``query`` restricted to ``col`` in ``values`` (text keys: addresses, record ids, domains),
    so a step reads the warehouse rows its batch needs through the column's index, not the
    table. One ``= ANY(text[])`` parameter on PostgreSQL, one JSON parameter on SQLite."""
    vals = [str(v) for v in pd.unique(pd.Series(list(values), dtype=object).dropna())]
    if not vals:
        return read_frame(conn, query.where(sa.false()))
    if _pg(conn):
        return read_frame(conn, query.where(col == sa.any_(_pg_array("vals", _text_array_literal(vals), sa.Text))))
    return read_frame(conn, query.where(_json_in(col, vals)))


# ----------------------------------------------------------------------------- converting
def _as_datetime(s: pd.Series) -> pd.Series:
    if s.dtype.kind != "M":
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError):
            s = pd.to_datetime(s, format="mixed")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s


def _as_datetime_text(s: pd.Series, fmt: str) -> pd.Series:
    """Timestamps as text; text input is parsed once per distinct value (a batch's load time
    is one value repeated on every row)."""
    if s.dtype.kind == "M":
        return _as_datetime(s).dt.strftime(fmt)
    codes, uniq = pd.factorize(s)
    if not len(uniq):
        return pd.Series([None] * len(s), dtype=object)
    if len(uniq) * 4 > len(s):
        return _as_datetime(s).dt.strftime(fmt)
    text = _as_datetime(pd.Series(uniq)).dt.strftime(fmt).to_numpy(dtype=object)
    return pd.Series(np.where(codes >= 0, text[codes], None), dtype=object)


def _storage(s: pd.Series, t: sa.types.TypeEngine | None, json_text: bool = False,
             copy: bool = False) -> pd.Series:
    """One column as the values the driver stores, vectorised; missing values as None.

    ``copy``: for COPY on PostgreSQL, where pyarrow writes the CSV: typed columns (timestamps,
    nullable ints, strings) stay typed, as converting them to Python objects costs more than
    the write."""
    s = s.reset_index(drop=True)
    never_missing = isinstance(s.dtype, np.dtype) and s.dtype.kind in "iub"   # numpy ints, bools
    if isinstance(t, sa.DateTime) or (t is None and s.dtype.kind == "M"):
        if copy and s.dtype.kind == "M":
            return _as_datetime(s)
        out = _as_datetime_text(s, TS_FORMAT)
    elif isinstance(t, sa.Date):
        out = _as_datetime_text(s, "%Y-%m-%d")
    elif isinstance(t, sa.Boolean) or (t is None and s.dtype.kind == "b"):
        out = (s if s.dtype.kind in "iub" else s.astype("boolean")).astype("Int64")
    elif isinstance(t, sa.Integer) or (t is None and s.dtype.kind in "iu"):
        if s.dtype.kind not in "iuf":
            s = pd.to_numeric(s.where(s.notna(), None))
        out = (s.round() if s.dtype.kind == "f" else s).astype("Int64")
    elif isinstance(t, (sa.Float, sa.Numeric)) or (t is None and s.dtype.kind == "f"):
        out = pd.to_numeric(s.where(s.notna(), None) if s.dtype == object else s).astype("float64")
    elif isinstance(t, sa.JSON) and not json_text:
        na = s.isna().to_numpy()
        out = pd.Series([None if m else json.dumps(v, default=str) for v, m in zip(s.tolist(), na)],
                        dtype=object)
    else:
        out = s
    if copy:
        return out                       # pyarrow reads None, NaN, NaT and pd.NA as NULL
    missing = None if never_missing else s.isna().to_numpy()
    vals = out.to_numpy(dtype=object)
    if missing is not None and missing.any():
        vals = vals.copy()
        vals[missing] = None
    return pd.Series(vals, dtype=object, copy=False)


def _with_defaults(table: sa.Table, df: pd.DataFrame) -> pd.DataFrame:
    """Columns of the table the frame lacks, filled with their scalar Python defaults."""
    extra = {c.name: c.default.arg for c in table.columns
             if c.name not in df.columns and isinstance(c.default, ScalarElementColumnDefault)}
    return df.assign(**extra) if extra else df


def _storage_frame(df: pd.DataFrame, types: Mapping[str, sa.types.TypeEngine | None],
                   json_text: Iterable[str] = (), copy: bool = False) -> pd.DataFrame:
    jt = set(json_text)
    return pd.DataFrame({c: _storage(df[c], t, c in jt, copy) for c, t in types.items()},
                        index=pd.RangeIndex(len(df)))


def _csv_slices(plain: pd.DataFrame) -> Iterator[memoryview]:
    """CSV text of the frame in slices, by pyarrow (NULL = empty unquoted field, '' = "")."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for i in range(0, len(plain), _COPY_ROWS):
        part = plain.iloc[i:i + _COPY_ROWS]
        arrays = []
        for c in part.columns:
            try:
                arrays.append(pa.array(part[c], from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):   # mixed Python types: as text
                col = part[c].astype(object)
                arrays.append(pa.array(col.where(col.isna(), col.astype(str)).where(col.notna(), None),
                                       type=pa.string(), from_pandas=True))
        buf = io.BytesIO()
        pacsv.write_csv(pa.Table.from_arrays(arrays, names=[str(c) for c in part.columns]), buf, opts)
        yield buf.getbuffer()


def _copy(conn: Connection, table_name: str, plain: pd.DataFrame) -> None:
    """COPY a storage frame into a table (the server ingests one slice while the next is built)."""
    from psycopg.copy import QueuedLibpqWriter

    col_sql = ", ".join(_q(str(c)) for c in plain.columns)
    raw = conn.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    with raw.cursor() as cur:
        with cur.copy(f"COPY {_q(table_name)} ({col_sql}) FROM STDIN WITH (FORMAT csv)",
                      writer=QueuedLibpqWriter(cur)) as cp:
            for part in _csv_slices(plain):
                cp.write(part)


EXECUTEMANY_ROWS = 50_000


def _executemany(conn: Connection, sql: str, df: pd.DataFrame,
                 types: Mapping[str, sa.types.TypeEngine | None], json_text: Iterable[str] = ()) -> int:
    """Driver-level executemany of the frame's rows as stored values (``_storage_frame``),
    ``EXECUTEMANY_ROWS`` at a time (in the caller's transaction): the Python values and row
    tuples of a first load's ten million key rows would otherwise all be built at once (the
    load's peak memory at 300k leads was there). The cyclic garbage collector is paused
    meanwhile: a million row tuples (which can form no cycles) would otherwise trigger
    collection after collection, about half the time of the write."""
    was_on = gc.isenabled()
    gc.disable()
    raw = conn.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    cur = raw.cursor()
    try:
        n = 0
        jt = list(json_text)
        for start in range(0, len(df), EXECUTEMANY_ROWS):
            part = _storage_frame(df.iloc[start:start + EXECUTEMANY_ROWS], types, jt)
            cur.executemany(sql, list(zip(*(part[c].tolist() for c in part.columns))))
            n += int(cur.rowcount)
        return n
    finally:
        cur.close()
        if was_on:
            gc.enable()


# ----------------------------------------------------------------------------- staging
def stage(conn: Connection, df: pd.DataFrame, like: sa.Table | Mapping[str, str],
          name: str | None = None, key: Sequence[str] | None = None, analyze: bool = True,
          json_text: Iterable[str] = (), ordered: bool = False) -> str:
    """The frame as a temporary table; returns its (unquoted) name. Drop it with ``drop``.

    ``like``: a table whose column types the frame's columns take, or ``{column: SQL type}``.
    ``key`` indexes the staged rows (joins on SQLite); ``analyze`` gives PostgreSQL statistics
    (skip it for rows that are only scanned once); ``ordered`` adds ``_ord``, the row's position
    in the frame. On PostgreSQL the table also goes at commit.
    """
    name = name or f"tmp_{next(_seq)}"
    pg = _pg(conn)
    t = _q(name)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    if isinstance(like, sa.Table):
        types: dict[str, Any] = {c: like.c[c].type for c in df.columns if c in like.c}
        if pg:   # the target's column types, without its constraints and defaults
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {t} ON COMMIT DROP AS SELECT "
                                 f"{', '.join(_q(c) for c in types)} FROM {_q(like.name)} WITH NO DATA")
        else:    # untyped: the INSERT into the target applies its column affinities
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {t} ({', '.join(_q(c) for c in types)})")
    else:
        types = {c: _sql_type(ty) for c, ty in like.items()}
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {t} ({', '.join(f'{_q(c)} {ty}' for c, ty in like.items())})"
                             + (" ON COMMIT DROP" if pg else ""))
    if ordered:
        conn.exec_driver_sql(f"ALTER TABLE {t} ADD COLUMN _ord BIGINT")
        df = df.assign(_ord=np.arange(len(df)))
        types["_ord"] = sa.BigInteger()
    cols = list(types)
    if len(df):
        if pg:
            _copy(conn, name, _storage_frame(df, types, json_text, copy=True))
        else:
            marks = ", ".join("?" for _ in cols)
            _executemany(conn, f"INSERT INTO {t} ({', '.join(_q(c) for c in cols)}) VALUES ({marks})",
                         df, types, json_text)
    if key:
        conn.exec_driver_sql(f"CREATE INDEX {_q('ix_' + name)} ON {t} ({', '.join(_q(k) for k in key)})")
    if pg and analyze:
        conn.exec_driver_sql(f"ANALYZE {t}")   # temporary tables have no statistics otherwise
    return name


def _sql_type(ty: str) -> sa.types.TypeEngine:
    ty = ty.upper()
    if "INT" in ty:
        return sa.BigInteger()
    if ty.startswith("TIMESTAMP"):
        return sa.DateTime()
    if ty == "DATE":
        return sa.Date()
    if ty.startswith(("DOUBLE", "REAL", "FLOAT", "NUMERIC")):
        return sa.Float()
    if ty.startswith("BOOL"):
        return sa.Boolean()
    if ty.startswith("JSON"):
        return sa.JSON()
    return sa.Text()


def drop(conn: Connection, *names: str) -> None:
    for n in names:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(n)}")


# ----------------------------------------------------------------------------- writing
ANY_KEY = ("*",)     # copy_upsert(conflict=ANY_KEY): skip rows colliding with any unique key

# Columns the store derives on every write from another column of the same row, so no writer
# can forget them: the SHA-256 of a person's or a record's address, the key contact blocks are
# stored under (a new block finds its people by index; leadflow/store/contact_blocks.py).
_DERIVED: dict[str, dict[str, tuple[str, Callable[[pd.Series], pd.Series]]]] = {
    "people": {"email_hash": ("email_norm", email_hash)},
    "person_records": {"email_hash": ("email_norm", email_hash)},
}


def with_derived(table: sa.Table, **values: Any) -> dict[str, Any]:
    """``values`` for a single-row ``INSERT`` / ``UPDATE ... VALUES`` with the table's derived
    columns added (``_DERIVED``): the raw statements keep the same columns as the bulk writers."""
    out = dict(values)
    for d, (src, fn) in _DERIVED.get(table.name, {}).items():
        if src in values and d not in values:
            v = fn(pd.Series([values[src]], dtype=object)).iloc[0]
            out[d] = None if pd.isna(v) else v
    return out


def derived(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the table's derived columns (``_DERIVED``) computed from their source."""
    todo = {d: (src, fn) for d, (src, fn) in _DERIVED.get(table.name, {}).items() if src in frame.columns}
    if not todo:
        return frame
    return frame.assign(**{d: fn(frame[src].astype(object).where(frame[src].notna(), None))
                           for d, (src, fn) in todo.items()})


def copy_upsert(conn: Connection, table: sa.Table, frame: pd.DataFrame, *,
                conflict: Sequence[str] | None = None, update: Sequence[str] | None = None,
                returning: str | tuple[str, ...] | None = None, json_text: Iterable[str] = ()) -> Any:
    """Write a frame into ``table`` in one statement; returns the rows written (or their
    ``returning`` values, a list, in frame order; a tuple of columns gives tuples).

    - no ``conflict``: append;
    - ``conflict`` (unique key columns): rows whose key exists are skipped, so re-runs, retries
      and concurrent runs insert nothing twice; with ``update`` (columns) those rows are updated
      instead (a key repeated in the frame: its last row wins);
    - ``conflict=ANY_KEY``: rows colliding with any unique key of the table are skipped;
    - ``json_text``: JSON columns that already hold JSON text (written as is).

    Frame columns the table does not have are ignored. Rows go in frame order, so sorting by
    the key makes concurrent writers take key locks in the same order.
    """
    if frame.empty:
        return [] if returning else 0
    frame = derived(table, frame)
    df = _with_defaults(table, frame[[c for c in frame.columns if c in table.c]])
    if conflict and update:
        df = df.drop_duplicates(list(conflict), keep="last")
    cols = list(df.columns)
    col_sql = ", ".join(_q(c) for c in cols)
    tail = ""
    if tuple(conflict or ()) == ANY_KEY:
        tail = " ON CONFLICT DO NOTHING"
    elif conflict:
        action = ("DO UPDATE SET " + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in update)
                  if update else "DO NOTHING")
        tail = f" ON CONFLICT ({', '.join(_q(c) for c in conflict)}) {action}"
    several = isinstance(returning, tuple)     # a tuple of columns: tuples come back
    ret_cols = [returning] if isinstance(returning, str) else list(returning or ())
    ret = f" RETURNING {', '.join(_q(c) for c in ret_cols)}" if ret_cols else ""
    pg = _pg(conn)
    if not ret and not (pg and tail):
        types = {c: table.c[c].type for c in cols}
        if pg:                                   # plain append: straight into the table
            _copy(conn, table.name, _storage_frame(df, types, json_text, copy=True))
            return len(df)
        marks = ", ".join("?" for _ in cols)
        n = _executemany(conn, f"INSERT INTO {_q(table.name)} ({col_sql}) VALUES ({marks}){tail}",
                         df, types, json_text)
        return n if tail else len(df)
    tmp = stage(conn, df, table, analyze=False, json_text=json_text, ordered=True)
    # "WHERE 1 = 1" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    res = conn.exec_driver_sql(f"INSERT INTO {_q(table.name)} ({col_sql}) SELECT {col_sql} FROM {_q(tmp)} "
                               f"WHERE 1 = 1 ORDER BY _ord{tail}{ret}")
    out = [tuple(r) if several else r[0] for r in res] if ret else int(res.rowcount)
    drop(conn, tmp)
    return out


def copy_update(conn: Connection, table: sa.Table, frame: pd.DataFrame, *, key: Sequence[str],
                columns: Sequence[str], where: str = "") -> int:
    """``UPDATE table SET columns`` from the frame's rows matched on ``key``; rows updated.

    One statement joined to the staged frame (``UPDATE ... FROM``), whatever its size.
    ``where`` (SQL) narrows it further: it names the target by its table name and the frame's
    rows as ``s`` (e.g. ``"stg.state = 'passed'"``: a row another run moved stays as it is).
    """
    if frame.empty:
        return 0
    frame = derived(table, frame)
    derive = _DERIVED.get(table.name, {})
    columns = [*columns, *(d for d, (src, _) in derive.items() if src in columns and d not in columns)]
    tmp = stage(conn, frame[list(key) + [c for c in columns if c not in key]], table, key=key)
    t = _q(table.name)
    sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns)
    on = " AND ".join(f"{t}.{_q(k)} = s.{_q(k)}" for k in key)
    extra = f" AND ({where})" if where else ""
    n = int(conn.exec_driver_sql(f"UPDATE {t} SET {sets} FROM {_q(tmp)} AS s WHERE {on}{extra}").rowcount)
    drop(conn, tmp)
    return n


def _unique_keys(table: sa.Table) -> list[list[str]]:
    """Column lists of the table's primary key and unique constraints and indexes."""
    cons = [table.primary_key, *(c for c in table.constraints if isinstance(c, sa.UniqueConstraint))]
    keys = [[c.name for c in k.columns] for k in cons] + \
        [[c.name for c in ix.columns] for ix in table.indexes if ix.unique]
    return [k for k in keys if k]


def _first_of_each_key(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame | None:
    """``frame`` without the rows an in-order ``ON CONFLICT DO NOTHING`` would skip, or None when
    that cannot be told by one pass (rows repeat more than one key: skipping one row can let a
    later row in). A key with a missing value collides with nothing, as in SQL; a key the frame
    does not carry (a serial id) is the table's to fill."""
    dups = []
    for key in _unique_keys(table):
        if set(key) <= set(frame.columns):
            sub = frame[key]
            dups.append(sub.duplicated(keep="first") & sub.notna().all(axis=1))
    dups = [d for d in dups if d.any()]
    if len(dups) > 1:
        return None
    return frame[~dups[0]] if dups else frame


def _has_rows(conn: Connection, table: sa.Table) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


def _droppable_keys(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> list[tuple[str, str]]:
    """PostgreSQL: (name, definition) of the table's unique constraints, and of its primary key
    when the frame carries its columns, that no foreign key depends on, read from the catalog
    (a column's ``unique=True`` makes a constraint the table definition does not name)."""
    rows = conn.execute(sa.text(
        "SELECT c.conname, c.contype, pg_get_constraintdef(c.oid), "
        "ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k "
        "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) "
        "FROM pg_constraint c WHERE c.conrelid = to_regclass(:t) AND c.contype IN ('p', 'u') "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid) "
        "ORDER BY c.conname"), {"t": _q(table.name)}).all()
    return [(str(name), str(definition)) for name, kind, definition, cols in rows
            if kind == "u" or set(cols) <= set(frame.columns)]


def fill_empty(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int | None:
    """Write ``frame`` into ``table`` if the table holds no rows, building its indexes after the
    rows; None when it already holds rows (the caller upserts instead: no lock is taken then).

    Why: a first load (or a rebuild) writes millions of rows into empty tables, and inserting
    them one B-tree entry at a time costs 3-4x a sorted index build afterwards (1M key rows:
    PostgreSQL 4.9 s against 1.3 s, SQLite 3.4 s against 1.9 s). The table is locked first
    (PostgreSQL: exclusively, until the transaction ends; SQLite's write transaction already
    excludes other writers), so no one else writes, or reads a half-built index, meanwhile; all
    of it is one transaction, so a failure leaves the indexes as they were. Rows an in-order
    ``ON CONFLICT DO NOTHING`` would skip are left out the same way. PostgreSQL rebuilds its
    primary key (where the frame carries it) and unique constraints too; SQLite cannot drop
    those and keeps them."""
    if frame.empty:
        return 0
    if _has_rows(conn, table):          # the daily case: no lock, the caller upserts
        return None
    pg = _pg(conn)
    if pg:
        conn.exec_driver_sql(f"LOCK TABLE {_q(table.name)} IN ACCESS EXCLUSIVE MODE")
    elif not conn.connection.dbapi_connection.in_transaction:   # type: ignore[union-attr]
        # pysqlite opens its transaction at the first INSERT/UPDATE/DELETE only: a DROP INDEX
        # before one would commit on its own, and a failure after it would lose the index
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    if _has_rows(conn, table):          # another writer filled it before the lock
        return None
    rows = _first_of_each_key(table, frame)
    if rows is None:
        return None
    cons = _droppable_keys(conn, table, frame) if pg else []
    t = _q(table.name)
    for ix in table.indexes:
        ix.drop(conn)
    for name, _ in cons:    # plain SQL: SQLAlchemy's DropConstraint would mark the shared definition
        conn.exec_driver_sql(f"ALTER TABLE {t} DROP CONSTRAINT {_q(name)}")
    if pg:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    n = copy_upsert(conn, table, rows)
    for name, definition in cons:
        conn.exec_driver_sql(f"ALTER TABLE {t} ADD CONSTRAINT {_q(name)} {definition}")
    for ix in table.indexes:
        ix.create(conn)
    return int(n)


def insert_new(conn: Connection, table: sa.Table, frame: pd.DataFrame, conflict: Sequence[str]) -> int:
    """Insert the rows whose key is new (``copy_upsert`` with ``conflict``, ``ANY_KEY`` too);
    into an empty table by ``fill_empty``: the large writes of a first load build their
    indexes once, after the rows. Rows written."""
    n = fill_empty(conn, table, frame)
    return int(copy_upsert(conn, table, frame, conflict=conflict)) if n is None else n


def upsert_rows(conn: Connection, table: sa.Table, frame: pd.DataFrame, conflict: Sequence[str],
                update: Sequence[str]) -> int:
    """``copy_upsert`` with ``update`` (a re-run rewrites its rows); into an empty table by
    ``fill_empty`` when the frame repeats no key (an in-order upsert would keep a repeated
    key's last row, ``fill_empty`` its first). Rows written."""
    n = None if frame[list(conflict)].duplicated().any() else fill_empty(conn, table, frame)
    return int(copy_upsert(conn, table, frame, conflict=conflict, update=update)) if n is None else n
