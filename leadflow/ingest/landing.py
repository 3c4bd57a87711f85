"""Idempotent landing of one delivery (a file, a query result, an API page) as one batch.

A batch is unique per ``(source, content_hash)``: the same content delivered twice lands
nothing the second time. Everything for a batch happens in one transaction, so a delivery
that breaks half-way leaves no half batch behind. Rows that cannot be typed, and every row
of a delivery that lacks a mapped column, go to ``quarantine`` (stage ``ingest``) with their
reasons; so ``rows_in = rows_landed + rows_rejected`` for every batch. Opt-out signals of every
typed row, landed or rejected, are kept in ``contact_blocks`` in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from leadflow.canonical import FIELDS
from leadflow.config import Source
from leadflow.context import RunContext
from leadflow.ingest.formats import HEADER_AGAIN, FileProblem, RowReject
from leadflow.ingest.mapping import (
    HeaderProblem,
    attributes_json,
    map_frame,
    missing_columns,
    records_of,
    refused_signals,
    reject_all,
)
from leadflow.privacy import guard
from leadflow.store import contact_blocks, db
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
    line_rejects: list = field(default_factory=list)   # rows set aside by the reader: (row, text, why) or RowReject
    watermark_column: str | None = None        # SQL: track the high-water mark of this column
    skip_if_empty: bool = False                # SQL: no new rows -> no batch at all
    watermark: str | None = None               # set while reading
    warnings: list[str] = field(default_factory=list)      # said in the batch note (e.g. unterminated last line)
    rows_hint: Callable[[], int] | None = None  # rows a delivery refused as a whole held (rows_in)
    clean_text: bool = False                   # the reader already refused NUL bytes (CSV): skip that check


class _Refused(Exception):
    """The warehouse refused write after write: the delivery fails as a whole."""


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


def record_failed(ctx: RunContext, source: Source, uri: str, content_hash: str, why: str, rows: int = 0) -> int:
    """A delivery refused before any row landed: recorded (never blocks a corrected re-delivery).

    ``rows``: the rows it held (all rejected with it), so rows_in = landed + rejected holds."""
    with ctx.engine.begin() as conn:
        return conn.execute(ingest_batches.insert().values(
            source=source.name, kind=source.kind, uri=uri,
            content_hash=f"{content_hash}:failed:{uuid.uuid4().hex[:12]}",
            rows_in=rows, rows_landed=0, rows_rejected=rows, status="failed", business_date=ctx.run_date,
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
        return _failed(ctx, d, why, e.rows)
    except _Refused as e:
        why = (f"{where(src, d.uri)}: the warehouse refused its rows ({e}) more than {_MAX_REFUSED} "
               "times; set aside, the source's other deliveries go on")
        return _failed(ctx, d, why, None)
    except Exception as e:  # noqa: BLE001 - one poisoned delivery must not block the source's later ones
        # Only the error class: driver messages quote the offending values (possible PII).
        log.error("%s: unexpected %s", where(src, d.uri), type(e).__name__)
        if os.environ.get("LEADFLOW_DEBUG"):
            raise
        why = (f"{where(src, d.uri)}: unexpected {type(e).__name__} while reading or landing it; "
               "set aside, the source's other deliveries go on")
        return _failed(ctx, d, why, None)


def _failed(ctx: RunContext, d: Delivery, why: str, rows: int | None) -> dict[str, Any]:
    """Record a delivery refused as a whole with the rows it held (the file goes to failed/)."""
    if rows is None:
        try:
            rows = d.rows_hint() if d.rows_hint else 0
        except Exception:  # noqa: BLE001 - a best-effort count never hides the real failure
            rows = 0
    bid = record_failed(ctx, d.source, d.uri, d.content_hash or "unhashed", why, rows)
    return result(d.source, d.uri, status="failed", error=why, batch_id=bid, rows_in=rows, rows_rejected=rows)


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
    seen: dict[str, Any] = {"first": None, "again": 0}   # first row set aside; rejects already quarantined
    failure: str | None = None
    wm: Any = None
    first_chunk = True
    for raw, rows in d.read():
        if not d.clean_text:   # rows set aside here are counted when quarantined below
            raw, rows, unsafe = unsafe_rows(raw, rows)
            d.line_rejects.extend(unsafe)
        rows_in += len(raw)
        if hasher is not None:
            hasher.update(",".join(map(str, raw.columns)).encode())
            hasher.update(pd.util.hash_pandas_object(raw.fillna("\x00"), index=False).to_numpy().tobytes())
        if d.watermark_column and len(raw):
            wm = _max_watermark(raw, d.watermark_column, wm)
        if not first_chunk:
            # The first chunk decides the columns. A later chunk of a keyed format (JSON Lines,
            # an API page) that omits a key its producer left null is read as null, so rows
            # already landed are never followed by a refusal of the same delivery.
            absent = missing_columns(src, list(raw.columns))
            if absent:
                raw = raw.reindex(columns=[*raw.columns, *absent])
        first_chunk = False
        try:
            m = map_frame(src, raw, rows, delivery=d.name)
        except HeaderProblem as e:
            failure = f"{where(src, d.uri, 1, e.fields[0])}: {e} (row 1 is the header)"
            rejected += _refuse(conn, ctx, src, batch_id, raw, rows, str(e), seen)
            continue
        if failure:   # a later chunk of a delivery already refused for its header
            rejected += _refuse(conn, ctx, src, batch_id, raw, rows, failure, seen)
            continue
        rejected += _quarantine(conn, ctx, src, batch_id, m.rejects, seen)
        # opt-out signals of every row, landed or rejected: a rejected row still stops contact
        contact_blocks.record(conn, src.name, kind, batch_id, m.signals, ctx.as_of)
        frame = guard.at_landing(conn, ctx.settings, src, _stg_frame(m, src, batch_id, ctx))   # erased people
        ok, bad = _append(conn, stg, frame, d, seen, ctx, batch_id)
        landed += ok
        rejected += bad
        if progress:
            progress(len(raw))
        n = _flush_line_rejects(conn, ctx, d, batch_id, seen, keep_newest=True)
        rows_in += n
        rejected += n
    n = _flush_line_rejects(conn, ctx, d, batch_id, seen)
    rows_in += n
    rejected += n
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
        first = seen["first"]
        note = f"{rejected} row(s) rejected to quarantine"
        if seen["again"]:
            note += (f" ({seen['again']} already in quarantine: the same record with the same problem, "
                     "of an earlier delivery or earlier in this one)")
        note += _first_reason(conn, batch_id, src, d.uri) or (
            f"; first: {where(src, d.uri, first[0])}: {first[1]}" if first else "")
    if d.warnings:
        note = "; ".join([*([note] if note else []), *d.warnings])
    d.watermark = None if wm is None else str(wm)
    why = failure or note
    conn.execute(ingest_batches.update().where(ingest_batches.c.batch_id == batch_id).values(
        content_hash=content_hash, rows_in=rows_in, rows_landed=landed, rows_rejected=rejected,
        status="failed" if failure else "landed", watermark=d.watermark,
        note=why[:2000] if why else None))
    assert rows_in == landed + rejected, "row accounting broken"
    log.info("batch %s source=%s rows_in=%s landed=%s rejected=%s", batch_id, src.name, rows_in, landed, rejected)
    return result(src, d.uri, batch_id=batch_id, rows_in=rows_in, rows_landed=landed, rows_rejected=rejected,
                  status="failed" if failure else "landed", error=failure, note=note, watermark=d.watermark)


_MAX_REFUSED = 200   # failed write attempts per delivery before the halving gives up


def _write_rows(conn: Connection, stg: sa.Table, frame: pd.DataFrame) -> int:
    """Append a mapped chunk to staging (``attributes`` is JSON text already)."""
    return int(db.copy_upsert(conn, stg, frame, json_text=["attributes"]))


def _append(conn: Connection, stg: sa.Table, frame: pd.DataFrame, d: Delivery, seen: dict[str, Any],
            ctx: RunContext, batch_id: int) -> tuple[int, int]:
    """Write a chunk; if the warehouse refuses it, find the refused rows by halving (each try in
    a savepoint) and quarantine just those. Returns (rows written, rows quarantined).

    The mapping step already sets aside every value known to break a write (NUL, invalid
    Unicode, out-of-range numbers); this is the net for what nobody foresaw."""
    if frame.empty:
        return 0, 0
    try:
        with conn.begin_nested():
            return _write_rows(conn, stg, frame), 0
    except OperationalError:
        raise                      # the warehouse itself is in trouble (locked, gone): not the data
    except DBAPIError as e:
        why = f"the warehouse refused this row ({type(e).__name__})"   # the portable class, no values
        seen["refused"] = seen.get("refused", 0) + 1
        if seen["refused"] > _MAX_REFUSED:   # not a row or two but every row: a systematic fault
            raise _Refused(type(e).__name__) from None
        if len(frame) == 1:
            rec = json.loads(frame.drop(columns=["source", "batch_id", "loaded_at", "state"], errors="ignore")
                             .to_json(orient="records", date_format="iso", force_ascii=False))[0]
            rej = pd.DataFrame({"row_number": [int(frame["row_number"].iloc[0])], "record": [rec],
                                "reasons": [[why]]})
            return 0, _quarantine(conn, ctx, d.source, batch_id, rej, seen)
    half = len(frame) // 2
    a = _append(conn, stg, frame.iloc[:half], d, seen, ctx, batch_id)
    b = _append(conn, stg, frame.iloc[half:], d, seen, ctx, batch_id)
    return a[0] + b[0], a[1] + b[1]


def _first_reason(conn: Connection, batch_id: int, src: Source, uri: str) -> str:
    row = conn.execute(sa.select(quarantine.c.row_number, quarantine.c.reasons)
                       .where(quarantine.c.batch_id == batch_id, quarantine.c.kind == src.kind)
                       .order_by(quarantine.c.row_number).limit(1)).first()
    if not row:
        return ""
    reason = (row.reasons or ["?"])[0]
    return f"; first: {where(src, uri, row.row_number)}: {reason}"


_UNSAFE = "[\x00\ud800-\udfff]"   # NUL (PostgreSQL text cannot hold it) and lone surrogates (not UTF-8)


def unsafe_rows(raw: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, list[tuple]]:
    """Set aside rows holding a value no warehouse text column can store, naming the column.

    Vectorised per column; such values come from JSON escapes (``\\u0000``), Parquet or APIs."""
    bad = np.zeros(len(raw), dtype=bool)
    why: dict[int, list[str]] = {}
    for c in raw.columns:
        s = raw[c]
        if s.dtype != object or not len(s):
            continue
        hit = s.str.contains(_UNSAFE, regex=True, na=False).to_numpy(dtype=bool)
        if hit.any():
            bad |= hit
            for i in np.flatnonzero(hit).tolist():
                why.setdefault(i, []).append(f"{c}: contains a NUL character or invalid Unicode "
                                             "(shown as U+FFFD in the record)")
    if not bad.any():
        return raw, rows, []
    idx = np.flatnonzero(bad)
    out = [(int(rows[i]), records_of(raw.iloc[[i]])[0], "; ".join(why[int(i)])) for i in idx]
    return raw[~bad], rows[~bad], out


def _flush_line_rejects(conn: Connection, ctx: RunContext, d: Delivery, batch_id: int,
                        seen: dict[str, Any], keep_newest: bool = False) -> int:
    """Quarantine the rows the reader set aside so far (short/long rows, malformed lines,
    oversized cells) and forget them, so memory stays flat however many there are. While
    reading, the newest is kept: the reader may still flag it (a cut last line)."""
    keep = d.line_rejects[-1:] if keep_newest else []
    todo = d.line_rejects[:-1] if keep_newest else list(d.line_rejects)
    d.line_rejects[:] = keep
    if not todo:
        return 0
    items = [(r.row, r.record, r.why) if isinstance(r, RowReject) else r for r in todo]
    items.sort(key=lambda t: t[0])
    if seen["first"] is None:
        seen["first"] = (items[0][0], items[0][2])
    lr = pd.DataFrame({"row_number": [r for r, _, _ in items],
                       "record": [rec if isinstance(rec, dict) else {"_line": rec} for _, rec, _ in items],
                       "reasons": [[why] for _, _, why in items],
                       # a header line again is no lead: accounted for, nothing to work (one entry per line)
                       "status": ["discarded" if why == HEADER_AGAIN else "open" for _, _, why in items]})
    return _quarantine(conn, ctx, d.source, batch_id, lr, seen)


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
    attrs = attributes_json(m.attrs, m.attribute_columns) if len(m.attrs.columns) else None
    out["attributes"] = attrs.to_numpy() if attrs is not None else None
    return out


def _refuse(conn: Connection, ctx: RunContext, src: Source, batch_id: int, raw: pd.DataFrame, rows: np.ndarray,
            reason: str, seen: dict[str, Any]) -> int:
    """Refuse a chunk of a delivery whose header cannot be mapped: every row to quarantine with
    ``reason``, and the opt-outs its rows carry kept as contact blocks all the same."""
    contact_blocks.record(conn, src.name, src.kind, batch_id, refused_signals(src, raw, rows), ctx.as_of)
    return _quarantine(conn, ctx, src, batch_id, reject_all(raw, rows, reason), seen)


def _quarantine(conn: Connection, ctx: RunContext, src: Source, batch_id: int, rejects: pd.DataFrame,
                seen: dict[str, Any] | None = None) -> int:
    """Quarantine rejected rows; returns how many rows were rejected (the batch's count).

    Each entry is keyed by what was delivered and why (``record_key``): the same source record
    with the same problem, re-delivered in a near-identical export, stays one entry (whatever
    an analyst decided about it) instead of being opened again."""
    if rejects is None or rejects.empty:
        return 0
    rejects = guard.rejects_at_landing(conn, ctx.settings, src, rejects)   # erased people: never in clear
    status = rejects["status"] if "status" in rejects else ["open"] * len(rejects)
    rows = []
    for r, rec, why, st in zip(rejects["row_number"].tolist(), rejects["record"], rejects["reasons"], status):
        rec = _storable(rec)
        rows.append({"source": src.name, "kind": src.kind, "batch_id": batch_id, "row_number": int(r),
                     "stage": "ingest", "record": rec, "reasons": why, "status": st,
                     "created_at": ctx.as_of,
                     # an erased person's rows all read {"erased": true}: keyed by place, one entry each
                     "record_key": record_key(src.name, src.kind, rec if st != "discarded" else
                                              [batch_id, int(r)], why)})
    inserted = db.insert_ignore_any(conn, quarantine, rows)
    if seen is not None:
        seen["again"] += len(rows) - inserted
    return len(rows)


def record_key(source: str, kind: str, record: Any, reasons: Any) -> str:
    """What identifies a quarantined record: its source, its delivered values and its problems
    (never the batch or the row number, which change when an export is re-delivered)."""
    body = json.dumps([source, kind, "ingest", record, reasons], sort_keys=True, default=str,
                      ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8", "replace")).hexdigest()


def _storable(v: Any) -> Any:
    """A record as both warehouses can store it: NUL and lone surrogates become U+FFFD."""
    if isinstance(v, str):
        return re.sub(_UNSAFE, "\ufffd", v) if _UNSAFE_RE.search(v) else v
    if isinstance(v, dict):
        return {_storable(k): _storable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_storable(x) for x in v]
    return v


_UNSAFE_RE = re.compile(_UNSAFE)

