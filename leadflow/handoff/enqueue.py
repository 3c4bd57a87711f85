"""The sales queue: qualify → suppress → route → insert handoffs, exactly once per person per cycle.

Exactly-once comes from the unique key ``handoffs (person_id, cycle)`` and insert-or-ignore, not
from care: a re-run, a retry, a backfill or two runs at once insert nothing twice. Only the rows a
run really inserted move the person's lifecycle to ``mql``, so the lifecycle history is written
once as well.

The write happens in one transaction that first takes the writer lock (SQLite: the first
statement is a write; PostgreSQL: a transaction advisory lock), then re-reads the contact flags:
an opt-out that arrived after scoring still wins. Opt-out signals kept in ``contact_blocks``
(from any record of the person, even one rejected or quarantined) count as the person's own
flags, and every run first withdraws the open handoffs of people who must not be contacted
(``leadflow.handoff.withdraw``), whatever their run date.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow import lifecycle, score
from leadflow.context import RunContext
from leadflow.handoff.withdraw import withdraw_blocked
from leadflow.qualify import candidates, existing_handoffs, priority, qualify, suppression_reason
from leadflow.route import ROUTE_COLUMNS, route
from leadflow.route.sla import due_times
from leadflow.store import contact_blocks, db
from leadflow.store.schema import SLA_LATE, SLA_WAITING, accounts, handoffs, people, suppressions

log = logging.getLogger("leadflow.handoff")

_LOCK_KEY = 7_202_611  # pg advisory lock id for "leadflow queue"


def today_counts(conn: Connection | sa.Engine, run_date: Any) -> dict[str, int]:
    """Handoffs already given to each owner on the run date (caps and fairness)."""
    q = (sa.select(handoffs.c.owner_rep, sa.func.count()).where(handoffs.c.run_date == run_date)
         .group_by(handoffs.c.owner_rep))
    if isinstance(conn, sa.Engine):
        with conn.connect() as c:
            return {r: int(n) for r, n in c.execute(q)}
    return {r: int(n) for r, n in conn.execute(q)}


def flag_breaches(conn: Connection, ctx: RunContext) -> int:
    """Mark handoffs past their SLA as of the run's logical time (no first action, or a late one).
    Two statements, each searching its partial index (``schema.SLA_WAITING`` / ``SLA_LATE``),
    so the cost follows the handoffs still open to a breach, not every handoff ever made."""
    yes = sa.bindparam("yes", True, type_=sa.Boolean)
    flag = "UPDATE handoffs SET sla_breached = :yes WHERE "
    late = conn.execute(sa.text(flag + SLA_LATE).bindparams(yes)).rowcount
    waiting = conn.execute(sa.text(f"{flag}{SLA_WAITING} AND sla_due_at < :as_of")
                           .bindparams(yes, sa.bindparam("as_of", ctx.as_of, type_=sa.DateTime))).rowcount
    return int(late or 0) + int(waiting or 0)


def _recheck(conn: Connection, ids: list[int]) -> pd.DataFrame:
    """Fresh contact flags and stage for the people about to be queued (inside the write txn)."""
    p, a = people, accounts
    q = (sa.select(p.c.person_id, p.c.lifecycle_stage, p.c.email_norm, p.c.opt_out,
                   p.c.do_not_contact, p.c.is_competitor, p.c.erased_at,
                   a.c.domain.label("account_domain"), a.c.is_customer, a.c.has_open_deal)
         .select_from(p.outerjoin(a, a.c.account_id == p.c.account_id)))
    return contact_blocks.apply(conn, db.read_ids(conn, q, p.c.person_id, ids))


def plan(ctx: RunContext, person_ids: list[int] | None = None) -> pd.DataFrame:
    """Read candidates and decide, without writing: status, qualified_by, suppression, route.
    ``person_ids``: only these people (the intraday path), else everyone due today."""
    s = ctx.settings
    df = candidates(ctx.engine, ctx, person_ids)
    if df.empty:
        return df
    df["has_handoff"] = existing_handoffs(ctx.engine, df)
    df = qualify(df, s.qualification, ctx.as_of)
    q = df["status"] == "qualified"
    df["suppressed"] = None
    if q.any():   # opt-out signals on any record of the person (contact_blocks) count too
        blk = contact_blocks.blocked_people(ctx.engine, df.loc[q, "person_id"].tolist())
        for c in ("opt_out", "do_not_contact"):
            extra = df["person_id"].astype("int64").map(blk[c]).fillna(False).astype(bool)
            df[c] = df[c].fillna(False).astype(bool) | extra
    df.loc[q, "suppressed"] = suppression_reason(df[q], s.qualification)
    go = q & df["suppressed"].isna()
    df = _with_todays_scores(ctx, df, go)
    df["priority"] = priority(df)
    counts = today_counts(ctx.engine, ctx.run_date)
    df.attrs["today_counts"] = counts
    return _set_routes(df, route(df[go], s.routing, ctx.run_date, counts))


def _with_todays_scores(ctx: RunContext, df: pd.DataFrame, go: pd.Series) -> pd.DataFrame:
    """Candidates to hand off (``go``) without a score today (hand-raisers whose inputs did not
    change, so the daily step did not rescore them) get one now, written like the step's, so the
    handoff carries the score of its day. Only they: a candidate without a score is a hand-raiser,
    qualified whatever the score, so the score changes no status; a suppressed or already queued
    hand-raiser (as many as the warehouse holds) is not rescored every day for nothing."""
    gap = df["score"].isna() & go
    if not gap.any():
        return df
    got = score.score_missing(ctx, df.loc[gap, "person_id"].tolist())
    if got.empty:
        return df
    got = got.set_index(got["person_id"].astype("int64"))
    pid = df["person_id"].astype("int64")
    for c in ("score", "grade", "probability", "model_version"):
        df[c] = df[c].where(~gap, pid.map(got[c]))
    return df


def _set_routes(df: pd.DataFrame, routed: pd.DataFrame) -> pd.DataFrame:
    for c in ROUTE_COLUMNS:
        if c not in df.columns or c == "route_reason":
            df[c] = pd.Series([None] * len(df), index=df.index, dtype=object)
        df.loc[routed.index, c] = routed[c] if c != "route_reason" else pd.Series(
            routed["route_reason"].tolist(), index=routed.index, dtype=object)
    return df


def _reroute_if_counts_moved(conn: Connection, ctx: RunContext, go: pd.DataFrame,
                             planned: dict[str, int] | None) -> pd.DataFrame:
    """Another run (the daily and an intraday run overlapping) may have handed off leads since
    ``plan`` read the day's counts: route again from the counts read under the queue lock, so
    caps hold and round-robin stays fair whatever the interleaving."""
    fresh = today_counts(conn, ctx.run_date)
    if planned is None or fresh == planned or go.empty:
        return go
    routed = route(go.drop(columns=list(ROUTE_COLUMNS)), ctx.settings.routing, ctx.run_date, fresh)
    return _set_routes(go, routed)


def _lock(conn: Connection) -> None:
    """Serialise queue writers: advisory lock on PostgreSQL; on SQLite the first write locks."""
    if db.is_postgres(conn):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def queue(ctx: RunContext, person_ids: list[int] | None = None) -> dict[str, Any]:
    """Qualify, suppress, route and queue today's MQLs (``person_ids``: only those people, for the
    intraday path); flag breached SLAs. Returns counts."""
    df = plan(ctx) if person_ids is None else plan(ctx, person_ids)
    planned = df.attrs.get("today_counts")
    counts: dict[str, Any] = {"candidates": int(len(df)), "mql": 0, "handed_off": 0,
                              "already_queued": 0, "with_sales": 0, "recycle_wait": 0,
                              "suppressed": 0, "suppressed_by_reason": {}, "per_rep": {},
                              "sla_breached": 0}
    with ctx.engine.begin() as conn:
        _lock(conn)
        counts["sla_breached"] = flag_breaches(conn, ctx)   # the first write takes SQLite's lock
        counts["withdrawn_open"] = withdraw_blocked(conn, ctx)   # late opt-outs, any run date
        if df.empty:
            return counts
        for st in ("already_queued", "with_sales", "recycle_wait"):
            counts[st] = int((df["status"] == st).sum())
        qualified = df[df["status"] == "qualified"].copy()
        counts["mql"] = int(len(qualified))
        # Late opt-out (or any flag/stage change) between planning and now wins.
        go_ids = qualified.loc[qualified["suppressed"].isna(), "person_id"].astype(int).tolist()
        if go_ids:
            fresh = _recheck(conn, go_ids).set_index("person_id")
            late = suppression_reason(fresh.reset_index(), ctx.settings.qualification)
            late.index = fresh.index
            now_sales = fresh["lifecycle_stage"].isin(["sal", "sql"])
            pid = qualified["person_id"].astype(int)
            late_reason = pid.map(late)
            mask = qualified["suppressed"].isna() & late_reason.notna()
            qualified.loc[mask, "suppressed"] = late_reason[mask]
            counts["late_suppressed"] = int(mask.sum())
            sales_now = qualified["suppressed"].isna() & pid.map(now_sales).fillna(False).astype(bool)
            counts["with_sales"] += int(sales_now.sum())
            qualified = qualified[~sales_now]
            qualified["lifecycle_stage"] = pid.map(fresh["lifecycle_stage"]).fillna(qualified["lifecycle_stage"])
        sup = qualified[qualified["suppressed"].notna()].sort_values("person_id")
        db.copy_upsert(conn, suppressions, pd.DataFrame({
            "person_id": sup["person_id"].astype("int64"), "cycle": sup["target_cycle"].astype("int64"),
            "reason": sup["suppressed"], "run_id": ctx.run_id, "run_date": ctx.run_date,
            "created_at": ctx.as_of}), conflict=["person_id", "cycle", "run_date"])
        counts["suppressed"] = int(len(sup))
        counts["suppressed_by_reason"] = {k: int(v) for k, v in sup["suppressed"].value_counts().items()}

        go = qualified[qualified["suppressed"].isna()].sort_values("person_id")
        if go.empty:
            return counts
        go = _reroute_if_counts_moved(conn, ctx, go, planned)
        go["sla_due_at"] = due_times(go, ctx.settings.routing, ctx.as_of, sla_start(go, ctx.as_of))
        rows = pd.DataFrame({
            "person_id": go["person_id"].astype("int64"), "cycle": go["target_cycle"].astype("int64"),
            "owner_rep": go["owner_rep"], "route_rule": go["route_rule"],
            "route_reason": go["route_reason"], "qualified_by": go["qualified_by"],
            "score": go["score"], "grade": go["grade"], "probability": go["probability"],
            "priority": go["priority"], "run_date": ctx.run_date, "run_id": ctx.run_id,
            "handed_off_at": ctx.as_of, "sla_due_at": go["sla_due_at"], "sla_breached": False,
            "status": "queued"})
        inserted = _insert_handoffs(conn, rows)
        done = go[go["person_id"].isin(inserted)]
        counts["handed_off"] = int(len(done))
        counts["per_rep"] = {k: int(v) for k, v in done["owner_rep"].value_counts().sort_index().items()}
        counts["by_rule"] = {k: int(v) for k, v in
                             done["route_rule"].str.split(":").str[0].value_counts().sort_index().items()}
        if not done.empty:
            # reasons for just the people handed off, from the inputs they were scored on
            counts["reasons_filled"] = score.fill_reasons(conn, ctx, done["person_id"].tolist())
            moved = lifecycle.transition(conn, done["person_id"].tolist(), "mql",
                                         ("qualified_by:" + done["qualified_by"].astype(str)).tolist(), ctx,
                                         occurred_at=qualified_at(done, ctx.as_of).tolist())
            counts["lifecycle"] = moved
            _stick_owners(conn, done, ctx.settings.routing.fallback_queue)
    log.info("queue %s: %s", ctx.run_date, {k: v for k, v in counts.items() if not isinstance(v, dict)})
    return counts


def sla_start(go: pd.DataFrame, as_of: Any) -> pd.Series:
    """When each lead's SLA clock starts: a hand-raiser's request time (the prospect asked then,
    not when a run saw it), else the handoff itself."""
    t = pd.Timestamp(as_of)
    raised = pd.to_datetime(go.get("hand_raised_at"), errors="coerce") if "hand_raised_at" in go \
        else pd.Series(pd.NaT, index=go.index)
    return raised.where(go["hand_raiser"].astype(bool) & raised.notna() & (raised <= t), t)


def qualified_at(df: pd.DataFrame, as_of: Any) -> pd.Series:
    """When each person became an MQL, from their own record: the latest of the lead's creation,
    its last touch and its recycling (the evidence the qualification rests on), never after the
    run's logical time. A history loaded in one run keeps each lead's MQL time; a same-day win
    is never dated before it."""
    cols = [c for c in ("lead_created_at", "last_touch_at", "recycled_at") if c in df]
    t = pd.concat([pd.to_datetime(df[c]) for c in cols], axis=1).max(axis=1) if cols \
        else pd.Series(pd.NaT, index=df.index)
    cap = pd.Timestamp(as_of)
    return t.where(t.notna() & (t <= cap), cap)


def _insert_handoffs(conn: Connection, rows: pd.DataFrame) -> set[int]:
    """Insert-or-ignore on (person_id, cycle); returns the person ids really inserted."""
    return {int(x) for x in db.copy_upsert(conn, handoffs, rows, conflict=["person_id", "cycle"],
                                           returning="person_id")}


def _stick_owners(conn: Connection, done: pd.DataFrame, fallback: str) -> None:
    """First handoff of an owner-less account makes its rep the account owner (sticky); one
    statement for all accounts (staged by COPY on PostgreSQL, then ``UPDATE ... FROM``), and an
    account another run gave an owner meanwhile keeps it."""
    m = done["account_id"].notna() & done["account_owner"].isna() & (done["owner_rep"] != fallback)
    firsts = (done[m].sort_values(["priority", "person_id"], ascending=[False, True])
              .drop_duplicates("account_id").sort_values("account_id"))
    if firsts.empty:
        return
    rows = pd.DataFrame({"account_id": firsts["account_id"].astype("int64").to_numpy(),
                         "owner_rep": firsts["owner_rep"].astype(object).to_numpy()})
    db.copy_update(conn, accounts, rows, key=["account_id"], columns=["owner_rep"],
                   where="accounts.owner_rep IS NULL")


def reason_text(route_reason: Any) -> str:
    """route_reason as stored (dict, or JSON text on some drivers) → a compact one-liner."""
    if isinstance(route_reason, str):
        try:
            route_reason = json.loads(route_reason)
        except ValueError:
            return route_reason
    if not isinstance(route_reason, dict):
        return ""
    return str(route_reason.get("matched", route_reason.get("rule", "")))
