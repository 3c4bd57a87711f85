"""Idempotent landing of one delivery (a file, a query result, an API page) as one batch.

A batch is unique per ``(source, content_hash)``: the same content delivered twice lands
nothing the second time. Everything for a batch happens in one transaction, so a delivery
that breaks half-way leaves no half batch behind. Rows that cannot be typed, and every row
of a delivery that lacks a mapped column, go to ``quarantine`` (stage ``ingest``) with their
reasons; so ``rows_in = rows_landed + rows_rejected`` for every batch.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from leadflow.canonical import FIELDS
from leadflow.config import Source
from leadflow.context import RunContext
from leadflow.ingest import write
from leadflow.ingest.formats import FileProblem
from leadflow.ingest.mapping import MissingColumns, map_frame, missing_columns, reject_all
from leadflow.privacy import guard
from leadflow.store import db
from leadflow.store.schema import STAGING, ingest_batches, quarantine

log = logging.getLogger("leadflow.ingest")

Chunks = Iterator[tuple[pd.DataFrame, np.ndarray]]


@dataclass
class Delivery:
    """What a connector hands over: where it came from and a way to read its rows."""

    source: Source
    uri: str                                   # file name, query label or URL (no secrets)
    name: str                                  # short name, used for derived record ids
    read: Callable[[], Chunks]
    content_hash: str | None = None            # known up front (files, pages), else hashed as read
    line_rejects: list[tuple[int, str, str]] = field(default_factory=list)  # malformed lines
    watermark_column: str | None = None        # SQL: track the high-water mark of this column
    skip_if_empty: bool = False                # SQL: no new rows -> no batch at all
    watermark: str | None = None               # set while reading


class _Rollback(Exception):
    def __init__(self, status: str) -> None:
        self.status = status


def result(source: Source, uri: str, **kw: Any) -> dict[str, Any]:
    out = {"source": source.name, "kind": source.kind, "uri": uri, "batch_id": None, "rows_in": 0,
           "rows_landed": 0, "rows_rejected": 0, "status": "landed", "error": None, "note": None}
    out.update(kw)
    return out


def where(source: Source, uri: str, row: int | None = None, fld: str | None = None) -> str:
    """'source S, file F, row R, field X' — the prefix of every ingest error."""
    label = "url" if uri.startswith(("http://", "https://")) else "query" if uri.startswith("sql:") else "file"
    out = f"source {source.name}, {label} {uri}"
    if row is not None:
        out += f", row {row}"
    if fld:
        out += f", field {fld}"
    return out


def already_landed(conn: Connection | sa.Engine, source: str, content_hash: str) -> int | None:
    q = sa.select(ingest_batches.c.batch_id).where(ingest_batches.c.source == source,
                                                   ingest_batches.c.content_hash == content_hash)
    if isinstance(conn, sa.Engine):
        with conn.connect() as c:
            return c.execute(q).scalar()
    return conn.execute(q).scalar()


def record_failed(ctx: RunContext, source: Source, uri: str, content_hash: str, why: str) -> int:
    """A delivery refused before any row landed: recorded (never blocks a corrected re-delivery)."""
    with ctx.engine.begin() as conn:
        return conn.execute(ingest_batches.insert().values(
            source=source.name, kind=source.kind, uri=uri, content_hash=f"{content_hash}:failed:{uuid.uuid4().hex[:12]}",
            rows_in=0, rows_landed=0, rows_rejected=0, status="failed", business_date=ctx.run_date,
            note=why[:2000], loaded_at=ctx.as_of).returning(ingest_batches.c.batch_id)).scalar_one()


def land_delivery(ctx: RunContext, d: Delivery, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Land one delivery as one batch; returns its result dict (never raises for bad data)."""
    src = d.source
    if d.content_hash and already_landed(ctx.engine, src.name, d.content_hash):
        return result(src, d.uri, status="duplicate", note="same content already landed")
    try:
        with ctx.engine.begin() as conn:
            return _land(ctx, conn, d, progress)
    except _Rollback as r:
        return result(src, d.uri, status=r.status,
                      note="same content already landed" if r.status == "duplicate" else "no new rows")
    except IntegrityError:
        # A concurrent run landed the same content first: the unique key did its job.
        return result(src, d.uri, status="duplicate", note="landed concurrently by another run")
    except FileProblem as e:
        why = f"{where(src, d.uri, e.row, e.field)}: {e.why}"
        bid = record_failed(ctx, src, d.uri, d.content_hash or "unhashed", why)
        return result(src, d.uri, status="failed", error=why, batch_id=bid)


def _land(ctx: RunContext, conn: Connection, d: Delivery, progress: Callable[[int], None] | None) -> dict[str, Any]:
    src = d.source
    kind = src.kind
    stg = STAGING[kind]
    provisional = d.content_hash or f"pending:{uuid.uuid4().hex}"
    batch_id = conn.execute(ingest_batches.insert().values(
        source=src.name, kind=kind, uri=d.uri, content_hash=provisional, status="landing",
        business_date=ctx.run_date, loaded_at=ctx.as_of).returning(ingest_batches.c.batch_id)).scalar_one()
    hasher = hashlib.sha256() if d.content_hash is None else None
    rows_in = landed = rejected = 0
    failure: str | None = None
    wm: Any = None
    for raw, rows in d.read():
        rows_in += len(raw)
        if hasher is not None:
            hasher.update(",".join(map(str, raw.columns)).encode())
            hasher.update(pd.util.hash_pandas_object(raw.fillna("\x00"), index=False).to_numpy().tobytes())
        if d.watermark_column and len(raw):
            wm = _max_watermark(raw, d.watermark_column, wm)
        first_chunk = rows_in == len(raw)
        if not first_chunk:
            # The first chunk decides the columns. A later chunk of a keyed format (JSON Lines,
            # an API page) that omits a key its producer left null is read as null, so rows
            # already landed are never followed by a refusal of the same delivery.
            absent = missing_columns(src, list(raw.columns))
            if absent:
                raw = raw.reindex(columns=[*raw.columns, *absent])
        try:
            m = map_frame(src, raw, rows, delivery=d.name)
        except MissingColumns as e:
            failure = f"{where(src, d.uri, 1, e.fields[0])}: {e} (row 1 is the header)"
            rejected += _quarantine(conn, ctx, src, batch_id, reject_all(raw, rows, str(e)))
            continue
        if failure:   # a later chunk of a delivery already refused for a missing column
            rejected += _quarantine(conn, ctx, src, batch_id, reject_all(raw, rows, failure))
            continue
        rejected += _quarantine(conn, ctx, src, batch_id, m.rejects)
        landed += write.append(conn, stg, guard.at_landing(conn, ctx.settings, src,
                                                           _stg_frame(m, src, batch_id, ctx)))
        if progress:
            progress(len(raw))
    if d.line_rejects:
        lr = pd.DataFrame({"row_number": [r for r, _, _ in d.line_rejects],
                           "record": [{"_line": text} for _, text, _ in d.line_rejects],
                           "reasons": [[why] for _, _, why in d.line_rejects]})
        rows_in += len(lr)
        rejected += _quarantine(conn, ctx, src, batch_id, lr)
    if rows_in == 0 and d.skip_if_empty:
        raise _Rollback("empty")
    content_hash = d.content_hash or hasher.hexdigest()  # type: ignore[union-attr]
    if failure:
        content_hash = f"{content_hash}:failed:{uuid.uuid4().hex[:12]}"
    elif hasher is not None:
        other = conn.execute(sa.select(ingest_batches.c.batch_id).where(
            ingest_batches.c.source == src.name, ingest_batches.c.content_hash == content_hash)).scalar()
        if other is not None:
            raise _Rollback("duplicate")
    note = None
    if rejected and not failure:
        first = d.line_rejects[0] if d.line_rejects else None
        note = f"{rejected} row(s) rejected to quarantine"
        if first:
            note += f"; first: {where(src, d.uri, first[0])}: {first[2]}"
        else:
            note += _first_reason(conn, batch_id, src)
    d.watermark = None if wm is None else str(wm)
    conn.execute(ingest_batches.update().where(ingest_batches.c.batch_id == batch_id).values(
        content_hash=content_hash, rows_in=rows_in, rows_landed=landed, rows_rejected=rejected,
        status="failed" if failure else "landed", watermark=d.watermark,
        note=(failure or note)[:2000] if (failure or note) else None))
    assert rows_in == landed + rejected, "row accounting broken"
    log.info("batch %s source=%s rows_in=%s landed=%s rejected=%s", batch_id, src.name, rows_in, landed, rejected)
    return result(src, d.uri, batch_id=batch_id, rows_in=rows_in, rows_landed=landed, rows_rejected=rejected,
                  status="failed" if failure else "landed", error=failure, note=note, watermark=d.watermark)


def _first_reason(conn: Connection, batch_id: int, src: Source) -> str:
    row = conn.execute(sa.select(quarantine.c.row_number, quarantine.c.reasons)
                       .where(quarantine.c.batch_id == batch_id, quarantine.c.kind == src.kind)
                       .order_by(quarantine.c.row_number).limit(1)).first()
    if not row:
        return ""
    reason = (row.reasons or ["?"])[0]
    return f"; first: row {row.row_number}, field {reason}"


def _max_watermark(raw: pd.DataFrame, col: str, current: Any) -> Any:
    if col not in raw.columns:
        raise FileProblem(f"watermark column {col!r} is not in the query result", field=col)
    s = raw[col].dropna()
    if s.empty:
        return current
    num = pd.to_numeric(s, errors="coerce")
    best: Any = num.max() if num.notna().all() else s.astype(str).max()
    if isinstance(best, float) and best.is_integer():
        best = int(best)
    if current is None:
        return best
    try:
        return max(current, best)
    except TypeError:
        return max(str(current), str(best))


def _stg_frame(m: Any, src: Source, batch_id: int, ctx: RunContext) -> pd.DataFrame:
    frame = m.frame
    n = len(frame)
    out = pd.DataFrame({"source": np.full(n, src.name, dtype=object), "batch_id": np.full(n, batch_id),
                        "row_number": frame["row_number"].to_numpy(),
                        # as the text SQLAlchemy stores on SQLite (PostgreSQL parses it too)
                        "loaded_at": np.full(n, ctx.as_of.strftime("%Y-%m-%d %H:%M:%S.%f"), dtype=object),
                        "state": np.full(n, "landed", dtype=object)}, index=frame.index)
    for fld in FIELDS[src.kind]:
        out[fld] = frame[fld]
    attrs = write.attributes_json(m.attrs, m.attribute_columns) if len(m.attrs.columns) else None
    out["attributes"] = attrs.to_numpy() if attrs is not None else None
    return out


def _quarantine(conn: Connection, ctx: RunContext, src: Source, batch_id: int, rejects: pd.DataFrame) -> int:
    if rejects is None or rejects.empty:
        return 0
    rejects = guard.rejects_at_landing(conn, ctx.settings, src, rejects)
    status = rejects["status"] if "status" in rejects else ["open"] * len(rejects)
    rows = [{"source": src.name, "kind": src.kind, "batch_id": batch_id, "row_number": int(r),
             "stage": "ingest", "record": rec, "reasons": why, "status": st, "created_at": ctx.as_of}
            for r, rec, why, st in zip(rejects["row_number"].tolist(), rejects["record"], rejects["reasons"],
                                       status)]
    return db.insert_ignore(conn, quarantine, rows, ["kind", "batch_id", "row_number"])

