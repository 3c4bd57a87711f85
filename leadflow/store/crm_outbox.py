"""The CRM outbox: one row per (destination, handoff, action), the ledger of reverse-ETL pushes.

- ``enqueue`` adds an ``upsert`` row for each queued handoff of the run date, cancels unsent
  upserts of people who became uncontactable, and adds a ``withdraw`` row for each pushed upsert
  whose person or handoff was withdrawn since (late opt-out, erasure, quality hold). Unique keys
  make it idempotent: a re-run adds nothing.
- ``enqueue_tasks`` (HubSpot ``owner_task``) adds a ``task`` row per handoff whose contact
  upsert returned the contact id; the task id is stored in ``crm_id``.
- ``claim`` takes one batch with a conditional UPDATE (pending/failed, or ``sending`` whose lease
  expired because its run was killed), so concurrent runs never push the same row at once, and a
  killed run's in-flight batch is re-pushed by the next run. Re-pushing is harmless: every push
  is an upsert by key (or an update by CRM id), never a create; tasks, which are created, are
  first looked up in the CRM when their row was tried before (leadflow.crm.pusher).
- ``pushed``/``rejected``/``failed`` record each row's outcome; ``rejected`` (the CRM's
  validation said no) is final until the data changes, ``failed`` (transport, 429 budget spent)
  is retried by the next run.
- ``lookup`` maps CRM ids back to handoffs, for matching outcomes exported from the CRM.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.store import db
from leadflow.store.schema import crm_outbox as t
from leadflow.store.schema import handoffs, people

WITHDRAWN_HANDOFF = ("withdrawn", "held")   # handoff statuses that take a lead back from the rep


def now() -> datetime:
    """Wall-clock time (naive UTC): when a push really happened."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _uncontactable() -> Any:
    p = people.c
    return sa.or_(p.opt_out.is_(True), p.do_not_contact.is_(True), p.erased_at.is_not(None))


def enqueue(eng: Engine, destination: str, run_date: date) -> dict[str, int]:
    """Record what this destination must receive; returns counts of rows added or cancelled."""
    at = now()
    h, p = handoffs, people
    with eng.begin() as conn:
        new = db.read_df(conn, sa.select(h.c.handoff_id, h.c.person_id)
                         .select_from(h.join(p, p.c.person_id == h.c.person_id))
                         .where(h.c.run_date == run_date, h.c.status == "queued",
                                sa.not_(_uncontactable())))
        added = _enqueue(conn, destination, new, "upsert", at)
        gone = (sa.select(h.c.handoff_id).select_from(h.join(p, p.c.person_id == h.c.person_id))
                .where(sa.or_(h.c.status.in_(WITHDRAWN_HANDOFF), _uncontactable())))
        cancelled = conn.execute(
            sa.update(t).where(t.c.destination == destination, t.c.action.in_(("upsert", "task")),
                               t.c.status.in_(("pending", "failed")), t.c.handoff_id.in_(gone))
            .values(status="cancelled", error="withdrawn before it was pushed")).rowcount
        wd = db.read_df(conn, sa.select(t.c.handoff_id, t.c.person_id)
                        .where(t.c.destination == destination, t.c.action == "upsert",
                               t.c.status == "pushed", t.c.crm_id.is_not(None),
                               t.c.handoff_id.in_(gone)))
        withdrawals = _enqueue(conn, destination, wd, "withdraw", at)
    return {"enqueued": int(added), "cancelled": int(cancelled or 0), "withdrawals_enqueued": int(withdrawals)}


def enqueue_tasks(eng: Engine, destination: str, run_date: date) -> int:
    """A ``task`` row for each of the run date's handoffs whose contact upsert came back with a
    CRM id (the task is associated with it), still queued and contactable; unique on
    (destination, handoff, action), so each handoff gets one task row, ever."""
    h, p = handoffs, people
    ready = (sa.select(t.c.handoff_id, t.c.person_id)
             .select_from(t.join(h, h.c.handoff_id == t.c.handoff_id).join(p, p.c.person_id == t.c.person_id))
             .where(t.c.destination == destination, t.c.action == "upsert", t.c.status == "pushed",
                    t.c.crm_id.is_not(None), h.c.run_date == run_date, h.c.status == "queued",
                    sa.not_(_uncontactable())))
    with eng.begin() as conn:
        return _enqueue(conn, destination, db.read_df(conn, ready), "task", now())


def claim(eng: Engine, destination: str, action: str, run_id: str, limit: int,
          lease: timedelta) -> list[int]:
    """Atomically take up to ``limit`` rows for this run; returns their outbox ids (oldest first).

    ``run_id`` names this push (not just the run: a re-run must retry), so a push never re-takes
    rows it already tried; a row in ``sending`` is taken over once its lease expired (its run
    was killed)."""
    at = now()
    claimable = sa.and_(sa.or_(t.c.run_id.is_(None), t.c.run_id != run_id),
                        sa.or_(t.c.status.in_(("pending", "failed")),
                               sa.and_(t.c.status == "sending", t.c.claimed_at <= at - lease)))
    with eng.begin() as conn:
        ids = list(conn.execute(sa.select(t.c.crm_outbox_id)
                                .where(t.c.destination == destination, t.c.action == action, claimable)
                                .order_by(t.c.crm_outbox_id).limit(limit)).scalars())
        if not ids:
            return []
        got = conn.execute(sa.update(t).where(t.c.crm_outbox_id.in_(ids), claimable)
                           .values(status="sending", claimed_at=at, run_id=run_id,
                                   attempts=t.c.attempts + 1)
                           .returning(t.c.crm_outbox_id)).scalars().all()
    return sorted(int(i) for i in got)


def rows(conn: Connection | Engine, ids: list[int]) -> pd.DataFrame:
    """The outbox rows ``ids`` with the CRM ids of their handoff's pushed upsert (for withdrawals
    and tasks) and task (archived on withdrawal), and how often they were claimed (a task tried
    before may exist already)."""
    up, tk = t.alias("up"), t.alias("tk")
    q = (sa.select(t.c.crm_outbox_id, t.c.destination, t.c.handoff_id, t.c.person_id, t.c.action,
                   t.c.attempts, up.c.crm_id.label("upsert_crm_id"), tk.c.crm_id.label("task_crm_id"))
         .select_from(t.outerjoin(up, sa.and_(up.c.destination == t.c.destination,
                                              up.c.handoff_id == t.c.handoff_id,
                                              up.c.action == "upsert"))
                      .outerjoin(tk, sa.and_(tk.c.destination == t.c.destination,
                                             tk.c.handoff_id == t.c.handoff_id,
                                             tk.c.action == "task", tk.c.status == "pushed")))
         .where(t.c.crm_outbox_id.in_(ids)).order_by(t.c.crm_outbox_id))
    return db.read_df(conn, q)


def pushed(eng: Engine, done: list[tuple[int, str | None, bool | None]]) -> None:
    """Rows the CRM accepted: (outbox id, CRM id, created?)."""
    if not done:
        return
    at = now()
    with eng.begin() as conn:   # one executemany: each row carries its own CRM id
        conn.execute(sa.update(t).where(t.c.crm_outbox_id == sa.bindparam("b_id"))
                     .values(status="pushed", crm_id=sa.bindparam("b_crm"),
                             created_in_crm=sa.bindparam("b_new"), pushed_at=at, error=None),
                     [{"b_id": i, "b_crm": c, "b_new": n} for i, c, n in done])


def rejected(eng: Engine, bad: list[tuple[int, str]]) -> None:
    """Rows the CRM refused on validation (retrying cannot help): (outbox id, one-line error)."""
    if not bad:
        return
    with eng.begin() as conn:
        conn.execute(sa.update(t).where(t.c.crm_outbox_id == sa.bindparam("b_id"))
                     .values(status="rejected", error=sa.bindparam("b_err")),
                     [{"b_id": i, "b_err": e[:500]} for i, e in bad])


def failed(eng: Engine, ids: list[int], error: str) -> None:
    """Release rows for the next run to retry (transport error, retry budget spent)."""
    if not ids:
        return
    with eng.begin() as conn:
        conn.execute(sa.update(t).where(t.c.crm_outbox_id.in_(ids), t.c.status == "sending")
                     .values(status="failed", error=error[:500]))


def lookup(conn: Connection | Engine, crm_ids: list[str], destination: str | None = None) -> pd.DataFrame:
    """CRM record ids → the leadflow handoff they were pushed for (the latest one per CRM id).

    Returns columns destination, crm_id, handoff_id, person_id; ids never pushed are absent.
    For the feedback stage: an outcome exported from the CRM carries the CRM's id, not ours.
    """
    ids = sorted({str(c) for c in crm_ids if c is not None and str(c)})
    cols = ["destination", "crm_id", "handoff_id", "person_id"]
    if not ids:
        return pd.DataFrame(columns=cols)
    frames = []
    for j in range(0, len(ids), 5000):
        q = (sa.select(t.c.destination, t.c.crm_id, t.c.handoff_id, t.c.person_id)
             .where(t.c.crm_id.in_(ids[j:j + 5000]), t.c.action == "upsert", t.c.status == "pushed"))
        if destination:
            q = q.where(t.c.destination == destination)
        frames.append(db.read_df(conn, q))
    df = pd.concat(frames, ignore_index=True)
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.sort_values(["destination", "crm_id", "handoff_id"])
    return df.drop_duplicates(["destination", "crm_id"], keep="last").reset_index(drop=True)[cols]


def links(conn: Connection | Engine, crm_ids: list[str]) -> pd.DataFrame:
    """CRM record ids → (handoff_id, person_id): the handoff leadflow pushed under the id, else the
    handoff of the latest loaded outcome that carried it (a CRM id learned from feedback).

    Columns crm_id, handoff_id, person_id, one row per known id. Outcomes and later touches
    (a CRM activity feed) find their lead through it.
    """
    from leadflow.store.schema import outcomes
    ids = sorted({str(c) for c in crm_ids if c is not None and str(c)})
    cols = ["crm_id", "handoff_id", "person_id"]
    learned = [db.read_df(conn, sa.select(outcomes.c.crm_id, outcomes.c.handoff_id, outcomes.c.person_id)
                          .where(outcomes.c.crm_id.in_(ids[j:j + 5000])).order_by(outcomes.c.outcome_id))
               for j in range(0, len(ids), 5000)]
    learned_df = pd.concat(learned, ignore_index=True) if learned else pd.DataFrame(columns=cols)
    # the outbox wins over a learned link: listed last, it is the one kept per id
    both = pd.concat([learned_df[cols].drop_duplicates("crm_id", keep="last"), lookup(conn, ids)[cols]],
                     ignore_index=True)
    return both.drop_duplicates("crm_id", keep="last").reset_index(drop=True)


def summary(eng: Engine, errors: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per destination and action: rows per status; and the latest rejected/failed rows with errors
    (handoff and person ids only, no contact data)."""
    with eng.connect() as conn:
        counts = db.read_df(conn, sa.select(t.c.destination, t.c.action, t.c.status,
                                            sa.func.count().label("rows"))
                            .group_by(t.c.destination, t.c.action, t.c.status)
                            .order_by(t.c.destination, t.c.action, t.c.status))
        errs = db.read_df(conn, sa.select(t.c.destination, t.c.action, t.c.handoff_id, t.c.person_id,
                                          t.c.status, t.c.attempts, t.c.error)
                          .where(t.c.status.in_(("rejected", "failed")))
                          .order_by(t.c.crm_outbox_id.desc()).limit(errors))
    return counts, errs


def _enqueue(conn: Connection, destination: str, items: pd.DataFrame, action: str, at: datetime) -> int:
    """Pending outbox rows for (handoff_id, person_id) items, one bulk write; an existing
    (destination, handoff, action) row is kept as it is, so re-runs enqueue nothing twice."""
    frame = items[["handoff_id", "person_id"]].astype("int64").sort_values("handoff_id").assign(
        destination=destination, action=action, status="pending", attempts=0, created_at=at)
    return int(db.copy_upsert(conn, t, frame, conflict=["destination", "handoff_id", "action"]))
