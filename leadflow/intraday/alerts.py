"""Assignment notifications: the assigned rep is told at once, exactly once per handoff and channel.

``enqueue`` adds one outbox row per (handoff, channel) for the intraday path's handoffs
(``handoff_notifications``, unique on that pair: a re-run, a retry or an overlapping run adds
nothing). Working hours decide when and to whom: inside the owner's hours (their time zone) the
owner now; outside, held until their next opening (``outside: queue``) or sent now to the on-call
rep (``on_call``). ``send_due`` claims due rows with one conditional UPDATE, checks the contact
flags again (an opt-out that arrived since is cancelled, never sent), and sends the lead's brief —
who, why now, the SLA counted from the prospect's request — by email (the shared SMTP transport)
and/or a Slack incoming webhook. Logs carry counts and ids only, never the brief.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from leadflow import notify
from leadflow.config import Settings, WorkingHours
from leadflow.handoff.delivery import _LIST_SQL, _reasons_text
from leadflow.handoff.enqueue import reason_text
from leadflow.intraday import JOB, LOOKBACK, IntradayContext
from leadflow.qualify import suppression_reason
from leadflow.store import contact_blocks, db, outbox
from leadflow.store.schema import handoff_notifications, handoffs, touches

log = logging.getLogger("leadflow.intraday")


# --------------------------------------------------------------------------- when and to whom
def next_open(at: datetime, tz: str, wh: WorkingHours) -> datetime:
    """The first moment at or after ``at`` (naive UTC) inside working hours in ``tz``; naive UTC."""
    zone = ZoneInfo(tz)
    local = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    for d in range(8):
        day = (local + timedelta(days=d)).date()
        if day.weekday() not in wh.weekdays:
            continue
        opens = datetime(day.year, day.month, day.day, wh.start_hour, tzinfo=zone)
        closes = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=wh.end_hour)
        if local < closes:
            return max(local, opens).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return at   # no working day configured: never hold


def schedule(owners: pd.Series, at: datetime, settings: Settings) -> pd.DataFrame:
    """``recipient_rep`` and ``not_before`` per handoff owner, by the working-hours rule."""
    wh = settings.speed_to_lead.working_hours
    tz_of = {r.id: r.timezone for r in settings.routing.reps}
    plan = {}
    for rep in owners.unique():                       # one per rep (a handful), not per lead
        opens = next_open(at, tz_of.get(rep, "UTC"), wh)
        if opens <= at:
            plan[rep] = (rep, at)
        elif wh.outside == "on_call" and wh.on_call_rep:
            plan[rep] = (wh.on_call_rep, at)
        else:
            plan[rep] = (rep, opens)
    return pd.DataFrame({"recipient_rep": owners.map(lambda r: plan[r][0]),
                         "not_before": owners.map(lambda r: plan[r][1])}, index=owners.index)


# --------------------------------------------------------------------------- outbox
def enqueue(ctx: IntradayContext) -> int:
    """Outbox rows for the intraday handoffs of the last day that have none yet; rows added."""
    s = ctx.settings
    h, n, t = handoffs.c, handoff_notifications.c, touches.c
    types = sorted(set(s.speed_to_lead.touch_types) | set(s.qualification.hand_raiser_touches))
    asked = (sa.select(sa.func.max(t.occurred_at)).where(
        t.person_id == h.person_id, t.touch_type.in_(types), t.occurred_at <= h.handed_off_at)
        .scalar_subquery())
    q = (sa.select(h.handoff_id, h.owner_rep, h.sla_due_at, asked.label("requested_at"))
         .where(h.run_id.like(f"{JOB}:%"), h.handed_off_at >= ctx.as_of - LOOKBACK,
                h.status == "queued",
                ~sa.exists().where(n.handoff_id == h.handoff_id)))
    with ctx.engine.begin() as conn:
        new = db.read_df(conn, q)
        if new.empty:
            return 0
        new = new.join(schedule(new["owner_rep"], ctx.as_of, s))
        rows = pd.concat([new.assign(channel=c) for c in s.speed_to_lead.channels], ignore_index=True)
        rows = rows.assign(status="pending", attempts=0, created_at=ctx.as_of, run_id=ctx.run_id,
                           requested_at=pd.to_datetime(rows["requested_at"], format="mixed"),
                           sla_due_at=pd.to_datetime(rows["sla_due_at"], format="mixed"),
                           not_before=pd.to_datetime(rows["not_before"]))
        return outbox.add_notifications(conn, rows)


def send_due(ctx: IntradayContext, at: datetime | None = None) -> dict[str, int]:
    """Claim and send every due notification; returns sent / failed / cancelled counts."""
    s = ctx.settings
    at = at or ctx.as_of
    got = outbox.claim_notifications(ctx.engine, at, ctx.run_id,
                                     timedelta(seconds=s.speed_to_lead.claim_lease_seconds))
    out = {"sent": 0, "failed": 0, "cancelled": 0}
    if got.empty:
        return out
    leads = _leads(ctx, got["handoff_id"].astype(int).tolist())
    got = got.merge(leads, on="handoff_id", how="left")
    reps = {r.id: r for r in s.routing.reps}
    stop = got["suppressed"].notna() | (got["status"] != "queued")
    no_addr = ~stop & (got["channel"] == "email") & got["recipient_rep"].map(
        lambda r: not (r in reps and reps[r].email))
    _finish(ctx, got.loc[stop, "notification_id"], "cancelled", "may not be contacted now", out)
    _finish(ctx, got.loc[no_addr, "notification_id"], "cancelled", "recipient rep has no email", out)
    go = got[~stop & ~no_addr]
    go = go.assign(text=brief_text(go, s, at))
    _send_email(ctx, go[go["channel"] == "email"], out)
    _send_slack(ctx, go[go["channel"] == "slack"], out)
    log.info("speed_to_lead notifications: %s", out)
    return out


def _finish(ctx: IntradayContext, ids: pd.Series, status: str, why: str | None,
            out: dict[str, int]) -> None:
    ids_l = ids.astype(int).tolist()
    outbox.finish_notifications(ctx.engine, ids_l, status, why)
    out[status] += len(ids_l)


def _leads(ctx: IntradayContext, ids: list[int]) -> pd.DataFrame:
    """The claimed handoffs with their person and fresh contact flags (suppressed: a reason)."""
    sql = _LIST_SQL.replace("WHERE h.run_date = :d AND h.status = 'queued'", "WHERE h.handoff_id IN :ids")
    with ctx.engine.connect() as conn:
        raw = db.read_df(conn, sa.text(sql).bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids})
        raw["erased_at"] = pd.to_datetime(raw["erased_at"], format="mixed")
        raw = contact_blocks.apply(conn, raw)
    raw["suppressed"] = suppression_reason(raw, ctx.settings.qualification) if len(raw) else None
    return raw.drop(columns=["owner_rep", "sla_due_at"])


# --------------------------------------------------------------------------- the brief
def _local(ts: Any, tz: str) -> str:
    if ts is None or pd.isna(ts):
        return "?"
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(ZoneInfo(tz)).strftime("%a %d %b %H:%M ") + tz


def brief_text(df: pd.DataFrame, s: Settings, at: datetime) -> pd.Series:
    """The one-lead brief a rep reads (who, why now, SLA); it names the prospect, so it goes
    only to the rep, never into a log."""
    reps = {r.id: r for r in s.routing.reps}
    out = []
    for row in df.itertuples(index=False):     # one message per handoff: the text is per lead anyway
        tz = reps[row.recipient_rep].timezone if row.recipient_rep in reps else "UTC"
        name = f"{row.first_name or ''} {row.last_name or ''}".strip() or "(no name)"
        company = row.company or row.account_name or row.account_domain or "?"
        asked = pd.Timestamp(row.requested_at) if pd.notna(row.requested_at) else None
        ago = f" ({int((pd.Timestamp(at) - asked).total_seconds() // 60)} min ago)" if asked is not None else ""
        on_call = (f"You are on call for {row.owner_rep}, who is outside working hours.\n"
                   if row.recipient_rep != row.owner_rep else "")
        out.append(
            f"New lead assigned: {name}, {row.job_title or '?'} at {company}\n{on_call}"
            f"Who: {name} | {row.job_title or '?'} | {company} | {row.country or '?'}\n"
            f"Contact: {row.email_norm or '-'} | {row.phone_e164 or '-'}\n"
            f"Why now: asked at {_local(asked, tz)}{ago}; qualified by {row.qualified_by}; "
            f"score {row.score if pd.notna(row.score) else '?'} ({row.grade or '?'})\n"
            f"Reasons: {_reasons_text(row.reasons, s.delivery.top_reasons) or '-'}\n"
            f"SLA: first contact by {_local(row.sla_due_at, tz)} (clock started at the request)\n"
            f"Route: {reason_text(row.route_reason)} | handoff {int(row.handoff_id)}")
    return pd.Series(out, index=df.index, dtype=object)


def _send_email(ctx: IntradayContext, go: pd.DataFrame, out: dict[str, int]) -> None:
    if go.empty:
        return
    s = ctx.settings
    reps = {r.id: r for r in s.routing.reps}
    msgs = []
    for rep, text in zip(go["recipient_rep"], go["text"]):
        m = EmailMessage()
        m["From"], m["To"] = s.delivery.smtp.sender, str(reps[rep].email)
        m["Subject"] = text.splitlines()[0]
        m.set_content(text)
        msgs.append(m)
    ids = go["notification_id"].astype(int).tolist()
    done: list[int] = []

    def sent(i: int) -> None:
        outbox.finish_notifications(ctx.engine, [ids[i]], "sent")
        done.append(ids[i])

    try:
        notify.send_all(s.delivery.smtp, msgs, sent, what="assignment notifications")
    except notify.NotifyError as e:
        rest = pd.Series([i for i in ids if i not in set(done)], dtype="int64")
        _finish(ctx, rest, "failed", str(e), out)
        log.warning("%s", e)
    out["sent"] += len(done)


def _send_slack(ctx: IntradayContext, go: pd.DataFrame, out: dict[str, int]) -> None:
    if go.empty:
        return
    env = ctx.settings.speed_to_lead.slack_webhook_env
    url = os.environ.get(env) if env else None
    if not url:
        _finish(ctx, go["notification_id"], "failed", f"Slack webhook URL not set ({env or 'slack_webhook_env'})", out)
        return
    for nid, rep, text in zip(go["notification_id"], go["recipient_rep"], go["text"]):
        try:
            notify.send_slack(url, f"@{rep} {text}")
        except OSError as e:   # urllib errors; never the URL (a secret) nor the message
            code = getattr(e, "code", None)
            why = f"HTTP {code}" if isinstance(code, int) else type(e).__name__
            _finish(ctx, pd.Series([nid]), "failed", f"Slack webhook: {why}", out)
            log.warning("speed_to_lead notification %s: Slack webhook: %s", int(nid), why)
            continue
        _finish(ctx, pd.Series([nid]), "sent", None, out)
