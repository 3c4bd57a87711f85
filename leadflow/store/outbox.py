"""The email outbox: each rep's lead list for a day is emailed once per distinct content.

Rows are unique on ``(rep, list_date, content_hash)``: a re-run adds nothing for an unchanged
list, and a changed list adds one new row (sent as an update). A run sends only rows it has
claimed with one conditional UPDATE (pending or failed → sending), so of two concurrent runs
exactly one sends each row. A row left in ``sending`` by a run killed mid-send is claimed again
once its claim is older than the lease (a message may then go out twice; never zero times).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.store import db
from leadflow.store.schema import email_outbox as t
from leadflow.store.schema import handoff_notifications as n

LEASE = timedelta(minutes=30)


def now() -> datetime:
    """Wall-clock time (naive UTC): when a message really went out, not the run's logical time."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def add(eng: Engine, list_date: date, lists: dict[str, tuple[str, int]]) -> int:
    """Record each rep's current list (rep → (content hash, leads)); returns rows new to the outbox."""
    at = now()
    rows = [{"rep": rep, "list_date": list_date, "content_hash": h, "leads": n, "kind": "list",
             "status": "pending", "attempts": 0, "created_at": at} for rep, (h, n) in lists.items()]
    with eng.begin() as conn:
        return db.insert_ignore(conn, t, rows, ["rep", "list_date", "content_hash"])


def claim(eng: Engine, list_date: date, hashes: dict[str, str], run_id: str) -> dict[str, tuple[int, str]]:
    """Atomically take the rows this run will send; returns rep → (outbox id, list | update).

    Only unsent rows are claimable (pending, failed, or sending with an expired lease); a row
    already sent or being sent by another run is left alone.
    """
    if not hashes:
        return {}
    at = now()
    with eng.begin() as conn:
        got = conn.execute(
            sa.update(t)
            .where(t.c.list_date == list_date,
                   sa.tuple_(t.c.rep, t.c.content_hash).in_(list(hashes.items())),
                   sa.or_(t.c.status.in_(("pending", "failed")),
                          sa.and_(t.c.status == "sending", t.c.claimed_at < at - LEASE)))
            .values(status="sending", claimed_at=at, run_id=run_id, attempts=t.c.attempts + 1)
            .returning(t.c.outbox_id, t.c.rep)).all()
        if not got:
            return {}
        reps = [r for _, r in got]
        earlier = set(conn.execute(sa.select(t.c.rep).distinct().where(
            t.c.list_date == list_date, t.c.rep.in_(reps), t.c.status == "sent")).scalars())
        updates = [i for i, r in got if r in earlier]
        if updates:
            conn.execute(sa.update(t).where(t.c.outbox_id.in_(updates)).values(kind="update"))
    return {r: (i, "update" if r in earlier else "list") for i, r in got}


def mark_sent(eng: Engine, outbox_id: int) -> None:
    with eng.begin() as conn:
        conn.execute(sa.update(t).where(t.c.outbox_id == outbox_id)
                     .values(status="sent", sent_at=now(), error=None))


def mark_failed(eng: Engine, outbox_ids: list[int], error: str) -> None:
    """Release claimed rows for the next run to retry, with the (one-line, recipient-free) cause."""
    if not outbox_ids:
        return
    with eng.begin() as conn:
        conn.execute(sa.update(t).where(t.c.outbox_id.in_(outbox_ids), t.c.status == "sending")
                     .values(status="failed", error=error[:500]))


# --------------------------------------------------------------------------- assignment notifications
# The speed-to-lead outbox (``handoff_notifications``): one row per (handoff, channel), so a
# re-run, a retry or two runs at once add nothing twice; sent only once claimed, as above.

def add_notifications(conn: Connection, rows: pd.DataFrame) -> int:
    """Insert-or-ignore on (handoff_id, channel); returns the rows new to the outbox."""
    if rows.empty:
        return 0
    rows = rows.sort_values(["handoff_id", "channel"])
    return len(db.copy_upsert(conn, n, rows, conflict=["handoff_id", "channel"],
                              returning="notification_id"))


def claim_notifications(eng: Engine, at: datetime, run_id: str, lease: timedelta) -> pd.DataFrame:
    """Atomically take the due, unsent notifications (pending or failed with ``not_before`` passed,
    or left ``sending`` longer than ``lease`` by a killed run); returns the claimed rows."""
    c = n.c
    with eng.begin() as conn:
        got = conn.execute(
            sa.update(n)
            .where(sa.or_(sa.and_(c.status.in_(("pending", "failed")), c.not_before <= at),
                          sa.and_(c.status == "sending", c.claimed_at < at - lease)))
            .values(status="sending", claimed_at=at, run_id=run_id, attempts=c.attempts + 1)
            .returning(c.notification_id, c.handoff_id, c.channel, c.owner_rep, c.recipient_rep,
                       c.requested_at, c.sla_due_at)).all()
    cols = ["notification_id", "handoff_id", "channel", "owner_rep", "recipient_rep",
            "requested_at", "sla_due_at"]
    return pd.DataFrame([tuple(r) for r in got], columns=cols).sort_values("notification_id",
                                                                           ignore_index=True)


def finish_notifications(eng: Engine, ids: list[int], status: str, error: str | None = None) -> None:
    """Close claimed rows: ``sent`` (now), ``failed`` (retried by the next run) or ``cancelled``
    (the person may no longer be contacted); ``error`` is one line without recipients."""
    if not ids:
        return
    values: dict[str, object] = {"status": status, "error": error[:500] if error else None}
    if status == "sent":
        values["sent_at"] = now()
    with eng.begin() as conn:
        conn.execute(sa.update(n).where(n.c.notification_id.in_(ids), n.c.status == "sending")
                     .values(**values))
