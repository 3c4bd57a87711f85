"""Re-deliveries are not errors: an unchanged repeat of an event is suppressed, not quarantined.

Event exports overlap (today's file repeats yesterday's last hour) and at-least-once trackers
write a line twice. Before the checks run, a landed touch or CRM outcome whose id and values
repeat, unchanged, a row the source already delivered (loaded or passed in an earlier run, or an
earlier row of the batches being validated) moves to ``suppressed`` with reason ``redelivered``;
so does a lead line repeated unchanged within the run (a lead loaded in an earlier run is the
identity step's to suppress):
one place for every row, nothing for an analyst to work, and it does not count against the
source's quality gate. A repeat whose values changed stays for the checks, which quarantine it
(``*_not_loaded`` / ``*_unique``): which version is true is a person's call. Only rows whose id
repeats are read whole, so the cost follows the day's overlap, not the warehouse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import FIELDS, KEYS
from leadflow.store import db, rowstate
from leadflow.store.schema import STAGING

#: kinds whose rows are events with a source-given id (spend rows may correct an earlier day)
EVENT_KINDS = ("touches", "crm_outcomes")
#: kinds where only a repeat within the run is suppressed here: a lead already loaded unchanged
#: is suppressed by the identity step (``person_records.record_hash``)
RUN_KINDS = ("inbound_leads",)
REASON = "redelivered"


def record_hash(raw: pd.DataFrame, kind: str = "inbound_leads") -> pd.Series:
    """A hash of a landed row's delivered values (canonical fields and attributes, not its
    batch or row): the same source record re-delivered unchanged hashes the same."""
    # One dtype per canonical type, whatever pandas inferred for this particular read (a column
    # of ints with a gap reads back as float, an all-empty one as object), so equal values hash
    # equal in every load.
    vals = {}
    for c, typ in FIELDS[kind].items():
        if c not in raw.columns:
            continue
        s = raw[c]
        if typ in ("int", "float", "bool"):
            vals[c] = pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce").astype("float64")
        elif typ in ("datetime", "date"):
            vals[c] = pd.to_datetime(s, errors="coerce").astype("datetime64[us]")
        else:
            vals[c] = s.astype(object).where(s.notna(), None)
    if "attributes" in raw.columns:     # JSON objects are not hashable: their text is
        vals["attributes"] = raw["attributes"].astype(object).where(raw["attributes"].notna(), None).astype(str)
    frame = pd.DataFrame(vals, index=raw.index)
    h = pd.util.hash_pandas_object(frame, index=False, categorize=False).to_numpy()   # no factorize: ~2x faster
    return pd.Series(np.char.mod("%016x", h), index=raw.index).astype(object)


def _repeating_rows(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> pd.DataFrame:
    """``(batch_id, row_number)`` of these batches' landed rows whose id repeats in them or was
    accepted before: found in SQL (grouped and looked up by the id index), so a day without
    repeats reads no rows."""
    t = STAGING[kind]
    key = KEYS[kind][0]
    mine = sa.and_(t.c.source == source, t.c.batch_id.in_(batch_ids), t.c.state == "landed",
                   t.c[key].is_not(None))
    cur = t.alias("cur")        # by batch (a batch is one source's), not by the id index
    twice = (sa.select(cur.c[key]).where(cur.c.batch_id.in_(batch_ids), cur.c.state == "landed")
             .group_by(cur.c[key]).having(sa.func.count() > 1))
    if kind not in EVENT_KINDS:
        return db.read_frame(conn, sa.select(t.c.batch_id, t.c.row_number).where(
            mine, t.c[key].in_(twice)).order_by(t.c.batch_id, t.c.row_number))
    prev = t.alias("prev")
    seen = sa.exists().where(prev.c.source == t.c.source, prev.c[key] == t.c[key],     # (source, id) index
                             prev.c.batch_id.not_in(batch_ids),
                             sa.or_(prev.c.state == "loaded", rowstate.passed(prev)))  # type: ignore[arg-type]
    return db.read_frame(conn, sa.select(t.c.batch_id, t.c.row_number).where(
        mine, sa.or_(t.c[key].in_(twice), seen)).order_by(t.c.batch_id, t.c.row_number))


def _earlier_rows(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> pd.DataFrame:
    """``(batch_id, row_number)`` of the source's accepted rows (loaded, or passed and waiting)
    in other batches with an id these batches cite (looked up by id, not read whole)."""
    t = STAGING[kind]
    key = KEYS[kind][0]
    cited = t.alias("cited")
    ids = sa.select(cited.c[key]).where(cited.c.batch_id.in_(batch_ids))
    return db.read_frame(conn, sa.select(t.c.batch_id, t.c.row_number).where(
        t.c.source == source, t.c[key].in_(ids), t.c.batch_id.not_in(batch_ids),
        sa.or_(t.c.state == "loaded", rowstate.passed(t))).order_by(t.c.batch_id, t.c.row_number))


def repeats(rows: pd.DataFrame, earlier: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Of ``rows`` (in delivery order), those repeating unchanged an ``earlier`` row or an
    earlier row of their own: ``batch_id, row_number``."""
    key = KEYS[kind][0]
    both = pd.concat([earlier.assign(_new=False), rows.assign(_new=True)], ignore_index=True)
    both["_sig"] = record_hash(both, kind).to_numpy()
    both["_id"] = both[key].astype(str)
    again = both.duplicated(["_id", "_sig"], keep="first").to_numpy() & both["_new"].to_numpy()
    return both.loc[again, ["batch_id", "row_number"]].astype("int64")


def suppress(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> int:
    """Move unchanged repeats among these batches' landed rows to ``suppressed``; how many."""
    if kind not in EVENT_KINDS + RUN_KINDS or not batch_ids:
        return 0
    from leadflow.quality.run import fetch_rows  # the staged-row reader the checks use
    cand = _repeating_rows(conn, kind, source, batch_ids)
    if cand.empty:
        return 0
    earlier = _earlier_rows(conn, kind, source, batch_ids) if kind in EVENT_KINDS else cand.iloc[:0]
    again = repeats(fetch_rows(conn, kind, cand), fetch_rows(conn, kind, earlier), kind)
    if again.empty:
        return 0
    t = STAGING[kind]
    db.copy_update(conn, t, again.assign(state="suppressed", state_reason=REASON),
                   key=["batch_id", "row_number"], columns=["state", "state_reason"],
                   where=f"{t.name}.state = 'landed'")
    return len(again)
