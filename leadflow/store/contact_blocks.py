"""Opt-out signals (``contact_blocks``): written at ingest, read by qualification and delivery.

A block is keyed by the SHA-256 of a normalised address. It matches a person whose current
address, or the address on any record that formed them, hashes the same: people and records
store that hash (``email_hash``, derived by the store's writers), so the match is an indexed
join in SQL, for just the people a decision is about, and nothing is read at all while no block
is active.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.store import db
from leadflow.store.schema import ROW_STATES, contact_blocks, people, person_records, stg_inbound_leads, stg_touches
from leadflow.vocab.emails import addresses_listed, email_hash

_NOT_LOADED = tuple(s for s in ROW_STATES if s != "loaded")
# The people column a signal sets when applied: unsubscribe touches are opt-outs.
FLAG_OF = {"opt_out": "opt_out", "unsubscribe": "opt_out", "do_not_contact": "do_not_contact"}


def record(conn: Connection, source: str, kind: str, batch_id: int, signals: pd.DataFrame,
           at: datetime) -> int:
    """Store a chunk's signals (row_number, email_hash, signal); a re-run inserts nothing."""
    if signals is None or signals.empty:
        return 0
    rows = [{"email_hash": h, "signal": s, "source": source, "kind": kind, "batch_id": int(batch_id),
             "row_number": int(r), "created_at": at}
            for r, h, s in zip(signals["row_number"].tolist(), signals["email_hash"], signals["signal"])]
    return db.insert_ignore(conn, contact_blocks, rows, ["kind", "batch_id", "row_number", "signal", "email_hash"])


def any_active(conn: Connection | Engine) -> bool:
    """Whether any block is unreleased (one indexed row at most, not the blocks)."""
    q = sa.select(contact_blocks.c.block_id).where(contact_blocks.c.released_at.is_(None)).limit(1)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return c.execute(q).first() is not None
    return conn.execute(q).first() is not None


def _blocked_rows(conn: Connection | Engine, ids: Sequence[int]) -> pd.DataFrame:
    """(person_id, signal) of the active blocks on these people's current or records' addresses,
    joined in SQL through the stored ``email_hash`` (both sides indexed): no address is read."""
    b = contact_blocks.c
    frames = []
    for t in (people, person_records):
        q = (sa.select(t.c.person_id, b.signal).distinct()
             .select_from(t.join(contact_blocks, b.email_hash == t.c.email_hash))
             .where(b.released_at.is_(None)))
        frames.append(db.read_ids(conn, q, t.c.person_id, ids))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def blocked_people(conn: Connection | Engine, person_ids: Sequence[Any]) -> pd.DataFrame:
    """person_id -> (opt_out, do_not_contact) from active blocks, only for blocked people."""
    empty = pd.DataFrame({"opt_out": pd.Series(dtype=bool), "do_not_contact": pd.Series(dtype=bool)})
    ids = sorted({int(x) for x in person_ids if pd.notna(x)})
    if not ids or not any_active(conn):
        return empty
    hit = _blocked_rows(conn, ids)
    if hit.empty:
        return empty
    flag = hit["signal"].map(FLAG_OF).fillna("do_not_contact")
    return pd.DataFrame({"opt_out": (flag == "opt_out").to_numpy(),
                         "do_not_contact": (flag == "do_not_contact").to_numpy()},
                        index=hit["person_id"].astype("int64").to_numpy()).groupby(level=0).any()


def blocked_clause(person_id: Any) -> sa.ColumnElement[bool]:
    """SQL: the person (a column or value) has an active block on their address or on the
    address of any of their records, through the indexed ``email_hash`` columns."""
    b = contact_blocks.c
    live = sa.select(b.email_hash).where(b.released_at.is_(None))
    bp, br = people.alias("blocked_p"), person_records.alias("blocked_r")   # never correlated away
    return sa.or_(
        sa.exists().where(bp.c.person_id == person_id, bp.c.email_hash.in_(live)),
        sa.exists().where(br.c.person_id == person_id, br.c.email_hash.in_(live)))


def apply(conn: Connection | Engine, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (person_id, opt_out, do_not_contact, ...) with active blocks OR-ed into the flags."""
    if df.empty:
        return df
    b = blocked_people(conn, df["person_id"].tolist())
    if b.empty:
        return df
    out = df.copy()
    pid = out["person_id"].astype("int64")
    for c in ("opt_out", "do_not_contact"):
        extra = pid.map(b[c]).fillna(False).astype(bool)
        out[c] = out[c].fillna(False).astype(bool) | extra
    return out


def release(conn: Connection, email_norm: str, by: str, note: str, at: datetime) -> int:
    """A person decided this address may be contacted again: release its active blocks."""
    h = email_hash(pd.Series([email_norm], dtype=object)).iloc[0]
    c = contact_blocks.c
    return int(conn.execute(sa.update(contact_blocks).where(c.email_hash == h, c.released_at.is_(None))
                            .values(released_at=at, released_by=by, release_note=note)).rowcount or 0)


def capture_staged(conn: Connection, at: datetime) -> int:
    """Blocks for staged rows that carry a signal but have none yet: rows landed before ingest
    kept signals (e.g. an opted-out row already quarantined). Loaded rows are left out: their
    flags are on the person already (and the state index keeps this off a full scan). Idempotent."""
    n = 0
    b = contact_blocks.c
    for stg, cond, sigs in (
            (stg_inbound_leads, sa.or_(stg_inbound_leads.c.opt_out.is_(True),
                                       stg_inbound_leads.c.do_not_call.is_(True)), None),
            (stg_touches, stg_touches.c.touch_type == "unsubscribe", "unsubscribe")):
        kind = stg.name.removeprefix("stg_")
        have = (sa.select(b.block_id).where(b.kind == kind, b.batch_id == stg.c.batch_id,
                                            b.row_number == stg.c.row_number).exists())
        cols = [stg.c.source, stg.c.batch_id, stg.c.row_number, stg.c.email]
        if sigs is None:
            cols += [stg.c.opt_out, stg.c.do_not_call]
        df = db.read_df(conn, sa.select(*cols).where(stg.c.state.in_(_NOT_LOADED), cond,
                                                     stg.c.email.is_not(None), ~have))
        if df.empty:
            continue
        listed = addresses_listed(df["email"])      # each address a row lists ('a@x; b@y')
        df = df.iloc[listed["row"].to_numpy()].assign(
            email_hash=email_hash(listed["address"].astype(object)).to_numpy(dtype=object))
        df = df[df["email_hash"].notna()]
        parts = []
        if sigs is None:
            for fld, sig in (("opt_out", "opt_out"), ("do_not_call", "do_not_contact")):
                m = df[fld].fillna(False).astype(bool)
                parts.append(df[m].assign(signal=sig))
        else:
            parts.append(df.assign(signal=sigs))
        for (source, batch_id), g in pd.concat(parts).groupby(["source", "batch_id"]):
            n += record(conn, str(source), kind, int(batch_id), g[["row_number", "email_hash", "signal"]], at)
    return n
