"""Fast appends into ``stg_<kind>``: CSV COPY on PostgreSQL, driver-level executemany on SQLite.

``leadflow.store.db.bulk_insert`` converts value by value in Python, which is fine for small
frames but too slow for a million-row delivery; here every column is converted once,
vectorised, to what the driver stores (the same text formats SQLAlchemy uses on SQLite), so
the rows read back through the normal SQLAlchemy types unchanged.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.store import db

_COPY_ROWS = 50_000


def append(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Append ``df`` (columns named as the table's) and return the number of rows written."""
    if df.empty:
        return 0
    cols = [c for c in df.columns if c in table.c]
    if db.is_postgres(conn):
        return _copy_pg(conn, table, df[cols])
    return _executemany_sqlite(conn, table, df[cols])


def _copy_pg(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """COPY ... FORMAT csv fed by pyarrow's C++ CSV writer (NULL = empty unquoted field)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw = conn.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    col_sql = ", ".join(f'"{c}"' for c in df.columns)
    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    from psycopg.copy import QueuedLibpqWriter

    with raw.cursor() as cur:
        # The queued writer sends from a worker thread, so the server ingests one slice while
        # this thread formats the next.
        with cur.copy(f'COPY "{table.name}" ({col_sql}) FROM STDIN WITH (FORMAT csv)',
                      writer=QueuedLibpqWriter(cur)) as cp:
            for i in range(0, len(df), _COPY_ROWS):
                part = df.iloc[i:i + _COPY_ROWS]
                arrays = []
                for c in part.columns:
                    s = part[c]
                    if s.dtype == object:
                        s = s.where(s.notna(), None)
                    arrays.append(pa.array(s, from_pandas=True))
                buf = io.BytesIO()
                pacsv.write_csv(pa.Table.from_arrays(arrays, names=list(part.columns)), buf, opts)
                cp.write(buf.getbuffer())
    return len(df)


def _column_values(s: pd.Series, t: sa.types.TypeEngine) -> list:
    """One column as Python values in SQLAlchemy's SQLite storage format, NULL as None."""
    missing = s.isna().to_numpy()
    if isinstance(t, (sa.DateTime, sa.Date)) and s.dtype.kind != "M":
        vals = s.to_numpy(dtype=object)      # already formatted text
    elif isinstance(t, sa.DateTime):
        vals = s.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(dtype=object)
    elif isinstance(t, sa.Date):
        vals = s.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    elif isinstance(t, sa.Boolean):
        vals = s.astype("Int64").astype(object).to_numpy()
    elif isinstance(t, sa.Integer):
        vals = s.astype("Int64").astype(object).to_numpy()
    elif isinstance(t, sa.Float):
        vals = s.astype("float64").astype(object).to_numpy()
    else:
        vals = s.astype(object).to_numpy()
    if missing.any():
        vals = vals.copy()
        vals[missing] = None
    return vals.tolist()


def _executemany_sqlite(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    cols = list(df.columns)
    arrays = [_column_values(df[c], table.c[c].type) for c in cols]
    sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
           f'VALUES ({", ".join("?" for _ in cols)})')
    rows = list(zip(*arrays))
    conn.exec_driver_sql(sql, rows)
    return len(rows)


def attributes_json(frame: pd.DataFrame, columns: list[str]) -> pd.Series | None:
    """One JSON object per row of the unmapped columns, built vectorised by pandas."""
    if not columns or frame.empty:
        return None
    text = frame[columns].to_json(orient="records", lines=True, force_ascii=False)
    parts = text.rstrip("\n").split("\n")
    return pd.Series(np.asarray(parts, dtype=object), index=frame.index)
