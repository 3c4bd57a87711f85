"""Working the quarantine: list, show, edit, release (re-validate) and discard entries.

A released entry is validated again with the same suite. If it passes, its staging row goes
to ``passed`` (so the next run's load step processes it exactly once: loads only take
``passed`` rows and move them on); if it still fails, it stays ``open`` with its new reasons.
A discard keeps the record with who and why; the staging row becomes ``discarded``.

Entries from ingest (``stage = 'ingest'``: the row never reached staging) hold the source's raw
record; releasing one maps it again with the source's configuration and lands it in staging
(with the batch and row number it was delivered with) before validating it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.canonical import FIELDS
from leadflow.config import Settings
from leadflow.errors import LeadflowError
from leadflow.quality import params as qparams
from leadflow.quality.frame import evaluate
from leadflow.quality.suites import load_suite
from leadflow.store import db
from leadflow.store.schema import STAGING, ingest_batches, quarantine

STATUSES = ("open", "released", "discarded")


def _now() -> datetime:
    """People act on the quarantine in wall-clock time (this is not a pipeline stage)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def list_entries(engine: Engine, source: str | None = None, status: str | None = "open",
                 kind: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Entries, newest first, without the records (so listing shows no PII)."""
    q = quarantine
    stmt = sa.select(q.c.quarantine_id, q.c.source, q.c.kind, q.c.batch_id, q.c.row_number, q.c.stage,
                     q.c.status, q.c.reasons, q.c.created_at, q.c.resolved_by)
    if source:
        stmt = stmt.where(q.c.source == source)
    if status:
        if status not in STATUSES:
            raise LeadflowError(f"--status: {status!r} is not one of {', '.join(STATUSES)}")
        stmt = stmt.where(q.c.status == status)
    if kind:
        stmt = stmt.where(q.c.kind == kind)
    df = db.read_df(engine, stmt.order_by(q.c.quarantine_id.desc()).limit(limit))
    if not df.empty:
        df["reasons"] = df["reasons"].map(_json)
    return df


def get(conn: Connection | Engine, qid: int) -> dict[str, Any]:
    df = db.read_df(conn, sa.select(quarantine).where(quarantine.c.quarantine_id == int(qid)))
    if df.empty:
        raise LeadflowError(f"quarantine entry {qid} does not exist")
    row = df.iloc[0].to_dict()
    row["record"], row["reasons"] = _json(row["record"]), _json(row["reasons"])
    return {k: db._py(v) if not isinstance(v, (dict, list)) else v for k, v in row.items()}


def parse_changes(pairs: list[str] | None) -> dict[str, str | None]:
    """``field=value`` pairs (``field=`` sets the field missing)."""
    out: dict[str, str | None] = {}
    for p in pairs or []:
        if "=" not in p:
            raise LeadflowError(f"expected field=value, got {p!r}")
        k, v = p.split("=", 1)
        out[k.strip()] = v if v != "" else None
    return out


def _apply(entry: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    rec = dict(entry["record"])
    allowed = set(rec) | (set(FIELDS[entry["kind"]]) if entry["stage"] != "ingest" else set())
    bad = sorted(k for k in changes if k not in allowed)
    if bad:
        raise LeadflowError(f"quarantine entry {entry['quarantine_id']}: unknown field(s) "
                            f"{', '.join(bad)} for a {entry['stage']} record of {entry['kind']}")
    rec.update(changes)
    return rec


def _note(entry: dict[str, Any], text: str) -> str:
    prev = entry.get("resolution_note") or ""
    return (prev + "\n" if prev else "") + text


def edit(engine: Engine, qid: int, changes: dict[str, Any], by: str | None = None) -> dict[str, Any]:
    """Change fields of an open entry's record (validated on release)."""
    with engine.begin() as conn:
        e = get(conn, qid)
        if e["status"] != "open":
            raise LeadflowError(f"quarantine entry {qid} is {e['status']}, only open entries can be edited")
        rec = _apply(e, changes)
        conn.execute(quarantine.update().where(quarantine.c.quarantine_id == int(qid)).values(
            record=rec, resolution_note=_note(e, f"edited {', '.join(sorted(changes))}"
                                                 + (f" by {by}" if by else ""))))
    return get(engine, qid)


def discard(engine: Engine, ids: list[int], by: str, why: str) -> int:
    """Close open entries for good, keeping who and why; staging rows become ``discarded``."""
    if not by or not why:
        raise LeadflowError("discard needs --by NAME and --why TEXT")
    now = _now()
    done = 0
    with engine.begin() as conn:
        for qid in ids:
            e = get(conn, qid)
            if e["status"] != "open":
                raise LeadflowError(f"quarantine entry {qid} is {e['status']}, not open")
            conn.execute(quarantine.update().where(quarantine.c.quarantine_id == int(qid)).values(
                status="discarded", resolved_at=now, resolved_by=by, resolution_note=_note(e, why)))
            t = STAGING[e["kind"]]
            conn.execute(t.update().where(t.c.batch_id == e["batch_id"], t.c.row_number == e["row_number"],
                                          t.c.state.in_(("quarantined", "landed"))).values(state="discarded"))
            done += 1
    return done


def _land_ingest_entry(conn: Connection, settings: Settings, e: dict[str, Any], rec: dict[str, Any]
                       ) -> list[str] | None:
    """Map an ingest reject again; land it in staging. Returns ingest reasons if it still fails."""
    from leadflow.ingest.mapping import map_frame
    src = settings.source(e["source"])
    uri = conn.execute(sa.select(ingest_batches.c.uri).where(
        ingest_batches.c.batch_id == e["batch_id"])).scalar() or ""
    raw = pd.DataFrame([{k: (None if v is None else str(v)) for k, v in rec.items()}]).astype("str")
    raw = raw.where(pd.DataFrame([rec]).notna(), None)
    try:
        m = map_frame(src, raw, np.array([e["row_number"]]), delivery=uri.rsplit("/", 1)[-1])
    except Exception as ex:  # noqa: BLE001 - e.g. a mapped column missing from the record
        return [f"cannot map the record again: {ex}"]
    if len(m.rejects):
        return list(m.rejects["reasons"].iloc[0])
    frame = m.frame
    row = {fld: db._py(frame[fld].iloc[0]) for fld in FIELDS[e["kind"]] if fld in frame.columns}
    attrs = {c: db._py(m.attrs[c].iloc[0]) for c in m.attribute_columns if c in m.attrs.columns}
    row.update(source=e["source"], batch_id=e["batch_id"], row_number=e["row_number"],
               # quarantined until the release below passes it: its batch may be validated
               # already, where a ``landed`` row counts as passed (leadflow/store/rowstate.py)
               loaded_at=_now(), state="quarantined", attributes=attrs or None)
    if not db.insert_ignore(conn, STAGING[e["kind"]], [row], ["batch_id", "row_number"]):
        return None   # landed already (an earlier release): counters stay as they are
    conn.execute(ingest_batches.update().where(ingest_batches.c.batch_id == e["batch_id"]).values(
        rows_landed=ingest_batches.c.rows_landed + 1, rows_rejected=ingest_batches.c.rows_rejected - 1))
    return None


def release(engine: Engine, settings: Settings, ids: list[int], by: str,
            changes: dict[str, Any] | None = None, as_of: datetime | None = None) -> dict[str, Any]:
    """Validate entries again (after optional field changes); pass them on or keep them open.

    Returns ``released`` (ids now passed) and ``still_failing`` (id -> new reasons).
    """
    as_of = as_of or _now()
    out: dict[str, Any] = {"released": [], "still_failing": {}}
    with engine.begin() as conn:
        entries = [get(conn, i) for i in ids]
        for e in entries:
            if e["status"] != "open":
                raise LeadflowError(f"quarantine entry {e['quarantine_id']} is {e['status']}, not open")
        for e in entries:
            rec = _apply(e, changes or {})
            if e["stage"] == "ingest":
                why = _land_ingest_entry(conn, settings, e, rec)
                if why is not None:
                    _keep_open(conn, e, rec, why, by)
                    out["still_failing"][e["quarantine_id"]] = why
                    continue
                e = {**e, "stage": "quality"}
                rec = _staged_record(conn, e)
            type_fails = _stage_values(conn, e, rec)
            if type_fails:
                _keep_open(conn, e, rec, type_fails, by, stage="quality")
                out["still_failing"][e["quarantine_id"]] = type_fails
        # Re-validate per kind and source, as one frame (so in-batch uniqueness still applies).
        pending = [e for e in entries if e["quarantine_id"] not in out["still_failing"]]
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for e in pending:
            groups.setdefault((e["kind"], e["source"]), []).append(e)
        for (kind, source), es in groups.items():
            suite = load_suite(kind)
            t = STAGING[kind]
            keys = [(e["batch_id"], e["row_number"]) for e in es]
            frame = db.read_df(conn, sa.select(t).where(sa.tuple_(t.c.batch_id, t.c.row_number).in_(keys)))
            frame = frame.set_index(["batch_id", "row_number"]).loc[keys].reset_index()
            p = qparams.for_source(conn, suite, kind, source, sorted({k[0] for k in keys}), settings)
            ev = evaluate(kind, frame, as_of, p, suite=suite)
            fail_at = {keys[i]: r for i, r in zip(np.flatnonzero(ev.failed), ev.reasons)}
            now = _now()
            for e in es:
                k = (e["batch_id"], e["row_number"])
                cond = (t.c.batch_id == k[0]) & (t.c.row_number == k[1])
                if k in fail_at:
                    _keep_open(conn, e, _staged_record(conn, e), fail_at[k], by, stage="quality")
                    conn.execute(t.update().where(cond).values(state="quarantined"))
                    out["still_failing"][e["quarantine_id"]] = fail_at[k]
                else:
                    conn.execute(t.update().where(cond, t.c.state.in_(("quarantined", "landed")))
                                 .values(state="passed"))
                    conn.execute(quarantine.update().where(
                        quarantine.c.quarantine_id == e["quarantine_id"]).values(
                        status="released", stage="quality" if e["stage"] == "ingest" else e["stage"],
                        record=_staged_record(conn, e), resolved_at=now, resolved_by=by,
                        resolution_note=_note(e, f"released by {by}"
                                              + (f" with {', '.join(sorted(changes))} changed" if changes else ""))))
                    out["released"].append(e["quarantine_id"])
    return out


def _staged_record(conn: Connection, e: dict[str, Any]) -> dict[str, Any]:
    from leadflow.quality.run import record_json
    t = STAGING[e["kind"]]
    df = db.read_df(conn, sa.select(t).where(t.c.batch_id == e["batch_id"], t.c.row_number == e["row_number"]))
    if df.empty:
        raise LeadflowError(f"quarantine entry {e['quarantine_id']}: its staging row "
                            f"(batch {e['batch_id']}, row {e['row_number']}) is missing")
    return record_json(df)[0]


def _stage_values(conn: Connection, e: dict[str, Any], rec: dict[str, Any]) -> list[str]:
    """Write a record's (possibly edited) canonical values back to its staging row, typed.

    Returns the ``<field>_type`` failures (nothing is written then)."""
    kind = e["kind"]
    suite = load_suite(kind)
    from leadflow.quality.prepare import prepare
    frame = pd.DataFrame([{k: rec.get(k) for k in FIELDS[kind]}])
    typed, bad = prepare(suite, frame)
    if bad:
        return sorted(bad)
    values: dict[str, Any] = {}
    for fld, typ in FIELDS[kind].items():
        raw = rec.get(fld)
        if typ == "str":
            values[fld] = None if raw is None else str(raw)
        elif typ == "date":
            v = typed[fld].iloc[0]
            values[fld] = None if pd.isna(v) else v.date()
        else:
            values[fld] = db._py(typed[fld].iloc[0])
    t = STAGING[kind]
    conn.execute(t.update().where(t.c.batch_id == e["batch_id"], t.c.row_number == e["row_number"])
                 .values(**values))
    return []


def _keep_open(conn: Connection, e: dict[str, Any], rec: dict[str, Any], reasons: list[str], by: str,
               stage: str | None = None) -> None:
    conn.execute(quarantine.update().where(quarantine.c.quarantine_id == e["quarantine_id"]).values(
        record=rec, reasons=list(reasons), status="open", stage=stage or e["stage"],
        resolution_note=_note(e, f"release by {by} re-validated: still failing")))
