"""SQL connector: a query through SQLAlchemy, incremental on a watermark column.

The last batch's high-water mark (``ingest_batches.watermark``) is passed as ``:watermark``
so each run reads only rows newer than the previous one; a run with no new rows records nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.config import Source, SqlConnector
from leadflow.context import RunContext
from leadflow.errors import ConfigError, InputError
from leadflow.ingest.formats import FileProblem, as_text
from leadflow.ingest.landing import Delivery, land_delivery, result
from leadflow.store.schema import ingest_batches


def last_watermark(ctx: RunContext, source: str) -> str | None:
    q = (sa.select(ingest_batches.c.watermark)
         .where(ingest_batches.c.source == source, ingest_batches.c.status == "landed",
                ingest_batches.c.watermark.is_not(None))
         .order_by(ingest_batches.c.batch_id.desc()).limit(1))
    with ctx.engine.connect() as c:
        return c.execute(q).scalar()


def land_source(ctx: RunContext, src: Source, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    conn = src.connector
    assert isinstance(conn, SqlConnector)
    url = os.environ.get(conn.url_env)
    label = f"sql:{src.name}"
    if not url:
        raise ConfigError(f"source {src.name}: environment variable {conn.url_env} (the SQL source URL) is not set")
    wm = last_watermark(ctx, src.name)
    params: dict[str, Any] = {}
    if ":watermark" in conn.query:
        params["watermark"] = wm if wm is not None else conn.initial_watermark
    uri = label + (f" (watermark > {params['watermark']})" if params.get("watermark") is not None else "")
    try:
        eng = sa.create_engine(url)
    except Exception as e:  # noqa: BLE001 - bad URL of any kind
        raise ConfigError(f"source {src.name}: invalid SQL URL in {conn.url_env}: {type(e).__name__}") from None

    def read():
        start = 1
        try:
            with eng.connect() as c:
                res = c.execution_options(stream_results=True).execute(sa.text(conn.query), params)
                cols = list(res.keys())
                while True:
                    batch = res.fetchmany(conn.chunk_rows)
                    if not batch:
                        break
                    df = as_text(pd.DataFrame(batch, columns=cols))
                    yield df, np.arange(start, start + len(df), dtype=np.int64)
                    start += len(df)
        except sa.exc.SQLAlchemyError as e:
            msg = str(getattr(e, "orig", e)).strip().splitlines()[0][:300]
            raise FileProblem(f"query failed: {msg}") from None
        finally:
            eng.dispose()

    d = Delivery(src, uri, src.name, read, watermark_column=conn.watermark_column, skip_if_empty=True)
    try:
        return [land_delivery(ctx, d, progress)]
    except InputError as e:
        return [result(src, uri, status="failed", error=str(e))]
