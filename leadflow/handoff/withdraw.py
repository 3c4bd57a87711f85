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
from leadflow.store.schema import handoffs, people, suppressions

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
    ``deliver`` (``withdrawn_late``, with every suppression reason)."""
    h, p = handoffs.c, people.c
    q = (sa.select(h.handoff_id, h.person_id, h.cycle, p.opt_out, p.do_not_contact, p.erased_at)
         .select_from(handoffs.join(people, people.c.person_id == h.person_id))
         .where(h.status.in_(OPEN_STATUSES), h.run_date != ctx.run_date))
    # only the open handoffs a reason now applies to: people flagged themselves, or blocked on
    # one of their addresses (an indexed join on the stored hashes, when any block exists)
    reasons: list[sa.ColumnElement[bool]] = [p.opt_out.is_(True), p.do_not_contact.is_(True),
                                             p.erased_at.is_not(None)]
    if contact_blocks.any_active(conn):
        reasons.append(contact_blocks.blocked_clause(h.person_id))
    df = db.read_df(conn, q.where(sa.or_(*reasons)))
    if df.empty:
        return 0
    df = contact_blocks.apply(conn, df)
    df["reason"] = contact_reason(df)
    late = df[df["reason"].notna()].sort_values("handoff_id")
    if late.empty:
        return 0
    ids = late["handoff_id"].astype(int).tolist()
    n = 0
    for i in range(0, len(ids), 5000):
        n += int(conn.execute(sa.update(handoffs).where(h.handoff_id.in_(ids[i:i + 5000]),
                                                        h.status.in_(OPEN_STATUSES))
                              .values(status="withdrawn")).rowcount or 0)
    rows: list[dict[str, Any]] = db.records(pd.DataFrame({
        "person_id": late["person_id"].astype("int64"), "cycle": late["cycle"].astype("int64"),
        "reason": late["reason"], "run_id": ctx.run_id, "run_date": ctx.run_date,
        "created_at": ctx.as_of}).sort_values("person_id"))
    db.insert_ignore(conn, suppressions, rows, ["person_id", "cycle", "run_date"])
    log.info("withdrew %d open handoff(s) of people who must not be contacted", n)
    return n
