"""Every run, of any date, withdraws the open handoffs of people who must not be contacted.

An opt-out can arrive days after a person was handed off (on a record quarantined for another
reason, a rejected row, an unsubscribe touch). The run that sees it, whatever its date, marks
each still-open handoff of that person ``withdrawn``, logs a ``suppressions`` row (unique per
person, cycle and run date, so a re-run adds nothing) and so keeps the person out of every
later list and email. Only contact reasons withdraw a handoff (erased, opt-out, do-not-contact);
a customer or an open deal is sales progress, not a reason to take a lead back.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.context import RunContext
from leadflow.store import contact_blocks, db
from leadflow.store.schema import contact_changes, handoffs, people, suppressions

log = logging.getLogger("leadflow.handoff")

# Handoff statuses a rep may still act on (queued, or accepted / being worked per feedback).
OPEN_STATUSES = ("queued", "accepted", "working")
CONTACT_REASONS = ("erased", "opt_out", "do_not_contact")


def contact_reason(df: pd.DataFrame) -> pd.Series:
    """The first contact reason per row (None: may be contacted); needs erased_at, opt_out,
    do_not_contact (blocks already applied)."""
    conds = [df["erased_at"].notna().to_numpy(),
             df["opt_out"].fillna(False).astype(bool).to_numpy(),
             df["do_not_contact"].fillna(False).astype(bool).to_numpy()]
    # default: an object None, the same value np.select makes of a bare None (which numpy's stubs reject)
    return pd.Series(np.select(conds, list(CONTACT_REASONS), default=np.array(None, dtype=object)),
                     index=df.index, dtype=object)


def withdraw_blocked(conn: Connection, ctx: RunContext) -> int:
    """Withdraw open handoffs of other run dates (earlier or later) of people who must not be
    contacted; returns how many. The run date's own handoffs are taken out by that date's
    ``deliver`` (``withdrawn_late``, with every suppression reason).

    Only the people ``contact_changes`` lists are checked: database triggers queue everyone
    whose flags, addresses, blocks, records or handoffs changed (migration 0019), so the check
    follows the day's changes, not the warehouse's open handoffs. A change is settled (deleted)
    once its person holds no open handoff of this run date: such a handoff is the date's own
    ``deliver``'s to take out, and a later run of another date checks the person again."""
    ch = contact_changes.c
    changes = db.read_df(conn, sa.select(ch.change_id, ch.person_id))
    if changes.empty:
        return 0
    pids = changes["person_id"].astype("int64").unique().tolist()
    n = _withdraw(conn, ctx, pids)
    h = handoffs.c
    today = db.read_ids(conn, sa.select(h.person_id).where(h.status.in_(OPEN_STATUSES), h.run_date == ctx.run_date),
                        h.person_id, pids)
    done = changes.loc[~changes["person_id"].isin(today["person_id"]), "change_id"].astype("int64").tolist()
    for flt in db.id_filters(conn, ch.change_id, done):
        conn.execute(sa.delete(contact_changes).where(flt))
    return n


def _withdraw(conn: Connection, ctx: RunContext, person_ids: list[int]) -> int:
    """Withdraw the open handoffs (of other run dates) of these people who must not be contacted."""
    h, p = handoffs.c, people.c
    q = (sa.select(h.handoff_id, h.person_id, h.cycle, p.opt_out, p.do_not_contact, p.erased_at)
         .select_from(handoffs.join(people, people.c.person_id == h.person_id))
         .where(h.status.in_(OPEN_STATUSES), h.run_date != ctx.run_date))
    df = db.read_ids(conn, q, h.person_id, person_ids)
    if df.empty:
        return 0
    df = contact_blocks.apply(conn, df)
    df["reason"] = contact_reason(df)
    late = df[df["reason"].notna()].sort_values("handoff_id")
    if late.empty:
        return 0
    ids = late["handoff_id"].astype(int).tolist()
    n = 0
    for flt in db.id_filters(conn, h.handoff_id, ids):
        n += int(conn.execute(sa.update(handoffs).where(flt, h.status.in_(OPEN_STATUSES))
                              .values(status="withdrawn")).rowcount or 0)
    rows: list[dict[str, Any]] = db.records(pd.DataFrame({
        "person_id": late["person_id"].astype("int64"), "cycle": late["cycle"].astype("int64"),
        "reason": late["reason"], "run_id": ctx.run_id, "run_date": ctx.run_date,
        "created_at": ctx.as_of}).sort_values("person_id"))
    db.insert_ignore(conn, suppressions, rows, ["person_id", "cycle", "run_date"])
    log.info("withdrew %d open handoff(s) of people who must not be contacted", n)
    return n
