"""Delivery: each rep's daily lead list (CSV, XLSX, HTML) written to a folder and emailed.

Contact flags are checked again right before publishing: a person who opted out (or became
do-not-contact, erased, a competitor, a customer or in an open deal) after queueing is withdrawn
from the queue, logged in ``suppressions`` and never appears in a list or an email.

The day's folder is replaced as a whole by one atomic swap (``leadflow.store.files``; a
partition of the owners replaces its own owners' files, each whole: ``store.shared``), and email
goes through the ``email_outbox`` (``leadflow.store.outbox``): once per rep and list content, so
re-runs and concurrent runs never re-send, and a changed list goes out once as an update.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from leadflow import score
from leadflow.context import RunContext
from leadflow.errors import LeadflowError
from leadflow.faults import checkpoint
from leadflow.handoff import lists, mail
from leadflow.handoff.withdraw import withdraw_blocked
from leadflow.qualify import suppression_reason
from leadflow.score import partition
from leadflow.store import contact_blocks, db, outbox, shared
from leadflow.store.schema import handoffs, suppressions

log = logging.getLogger("leadflow.handoff")

_LIST_SQL = """
SELECT h.handoff_id, h.person_id, h.cycle, h.owner_rep, h.route_rule, h.route_reason,
       h.qualified_by, h.score, h.grade, h.probability, h.priority, h.sla_due_at, h.status, h.handed_off_at,
       p.first_name, p.last_name, p.email_norm, p.phone_e164, p.job_title, p.company,
       p.company_size, p.country, p.first_campaign_id, p.first_channel, p.lifecycle_stage,
       p.opt_out, p.do_not_contact, p.is_competitor, p.erased_at,
       a.domain AS account_domain, a.name AS account_name, a.company_size AS account_size,
       a.is_customer, a.has_open_deal,
       c.name AS campaign_name, s.reasons
FROM handoffs h
JOIN people p ON p.person_id = h.person_id
LEFT JOIN accounts a ON a.account_id = p.account_id
LEFT JOIN campaigns c ON c.campaign_id = p.first_campaign_id
LEFT JOIN scores s ON s.person_id = h.person_id AND s.score_date = h.run_date
WHERE h.run_date = :d AND h.status = 'queued'
"""


def _reasons_text(v: Any, k: int) -> str:
    """scores.reasons (list of strings or dicts, maybe JSON text) → 'a; b; c'."""
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return v
    if not isinstance(v, list):
        return ""
    out = []
    for r in v[:k]:
        if isinstance(r, dict):
            r = r.get("text") or r.get("reason") or json.dumps(r, sort_keys=True)
        out.append(str(r))
    return "; ".join(out)


def _with_reasons(conn: Any, ctx: RunContext, ok: pd.DataFrame) -> pd.Series:
    """The stored reasons; where missing (a handoff queued before reasons were filled at
    queueing), computed now for just those people."""
    miss = ok["reasons"].isna()
    if not miss.any() or ctx.settings.delivery.top_reasons == 0:
        return ok["reasons"]
    got = score.reasons_for(conn, ctx, ok.loc[miss, "person_id"].astype(int).tolist())
    by_id = dict(zip(got["person_id"].astype(int), got["reasons"]))
    filled = ok.loc[miss, "person_id"].astype(int).map(by_id)
    return ok["reasons"].where(~miss, filled)


def _recent_touches(conn: Any, ids: list[int], ctx: RunContext, k: int) -> pd.Series:
    """'2026-11-20 demo_request (paid_search); ...' per person, newest first."""
    if not ids or k == 0:
        return pd.Series(dtype=object)
    frames = [db.read_df(conn, sa.text(
        "SELECT person_id, touch_type, occurred_at, channel FROM touches "
        "WHERE person_id IN ({}) AND occurred_at <= :as_of".format(
            ", ".join(str(int(i)) for i in ids[j:j + 5000]))).bindparams(
        sa.bindparam("as_of", type_=sa.DateTime)), {"as_of": ctx.as_of})
        for j in range(0, len(ids), 5000)]
    t = pd.concat(frames, ignore_index=True)
    if t.empty:
        return pd.Series(dtype=object)
    t["occurred_at"] = pd.to_datetime(t["occurred_at"], format="mixed")
    t = t.sort_values(["person_id", "occurred_at"], ascending=[True, False])
    t = t[t.groupby("person_id").cumcount() < k]
    t["txt"] = (t["occurred_at"].dt.strftime("%Y-%m-%d") + " " + t["touch_type"].astype(str)
                + t["channel"].map(lambda c: f" ({c})" if isinstance(c, str) and c else ""))
    return t.groupby("person_id")["txt"].agg("; ".join)


def _sla_local(df: pd.DataFrame, ctx: RunContext) -> pd.Series:
    """SLA due in the owner's time zone, e.g. '2026-11-27 13:00 Europe/Berlin'."""
    tz_of = {r.id: r.timezone for r in ctx.settings.routing.reps}
    tz = df["owner_rep"].map(tz_of).fillna("UTC")
    due = pd.to_datetime(df["sla_due_at"], format="mixed")
    out = pd.Series([""] * len(df), index=df.index, dtype=object)
    for z in tz.unique():
        m = (tz == z) & due.notna()
        out[m] = (due[m].dt.tz_localize("UTC").dt.tz_convert(ZoneInfo(z))
                  .dt.strftime("%Y-%m-%d %H:%M ") + z)
    return out


def brief(ctx: RunContext, part: partition.Part | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run date's queued handoffs as list rows, and those withdrawn now (late suppression);
    with ``part``, only the handoffs of the owners in that partition (``owner_part``)."""
    d = ctx.settings.delivery
    with ctx.engine.connect() as conn:
        raw = db.read_df(conn, sa.text(_LIST_SQL).bindparams(sa.bindparam("d", type_=sa.Date)),
                         {"d": ctx.run_date})
        raw = raw[owner_part(raw["owner_rep"], part)] if part else raw
        if raw.empty:
            return raw, raw
        raw["erased_at"] = pd.to_datetime(raw["erased_at"], format="mixed")
        raw = contact_blocks.apply(conn, raw)   # opt-outs seen on any record of the person
        raw["suppressed"] = suppression_reason(raw, ctx.settings.qualification)
        late = raw[raw["suppressed"].notna()]
        ok = raw[raw["suppressed"].isna()].copy()
        touches = _recent_touches(conn, ok["person_id"].astype(int).tolist(), ctx, d.recent_touches)
        ok["reasons"] = _with_reasons(conn, ctx, ok)
    name = (ok["first_name"].fillna("").astype(str) + " " + ok["last_name"].fillna("").astype(str)).str.strip()
    out = pd.DataFrame({
        "priority": ok["priority"].astype(float).round(1),
        "sla_due": _sla_local(ok, ctx),
        "name": name,
        "job_title": ok["job_title"],
        "company": ok["company"].where(ok["company"].notna(), ok["account_name"]),
        "company_size": pd.to_numeric(ok["company_size"].where(ok["company_size"].notna(),
                                                               ok["account_size"]), errors="coerce").astype("Int64"),
        "country": ok["country"],
        "email": ok["email_norm"],
        "phone": ok["phone_e164"],
        "score": pd.to_numeric(ok["score"], errors="coerce").round(1),
        "grade": ok["grade"],
        "probability": pd.to_numeric(ok["probability"], errors="coerce").round(3),
        "qualified_by": ok["qualified_by"],
        "top_reasons": ok["reasons"].map(lambda v: _reasons_text(v, d.top_reasons)),
        "recent_touches": ok["person_id"].map(touches).fillna("") if len(touches) else "",
        "campaign": ok["campaign_name"].where(ok["campaign_name"].notna(), ok["first_campaign_id"]),
        "channel": ok["first_channel"],
        "route": ok["route_reason"].map(_route_text),
        "handoff_id": ok["handoff_id"].astype("int64"),
        "person_id": ok["person_id"].astype("int64"),
        "owner_rep": ok["owner_rep"],
        # For the handoff_list quality gate only (dropped before writing):
        "g_first_name": ok["first_name"], "g_last_name": ok["last_name"],
        "g_cycle": ok["cycle"].astype("int64"), "g_route_rule": ok["route_rule"],
        "g_handed_off_at": pd.to_datetime(ok["handed_off_at"], format="mixed"),
        "g_sla_due_at": pd.to_datetime(ok["sla_due_at"], format="mixed"),
        "g_opt_out": ok["opt_out"].fillna(False).astype(bool),
        "g_do_not_contact": ok["do_not_contact"].fillna(False).astype(bool),
        "g_score": pd.to_numeric(ok["score"], errors="coerce"),
        "g_probability": pd.to_numeric(ok["probability"], errors="coerce"),
        "g_priority": pd.to_numeric(ok["priority"], errors="coerce"),
    }, index=ok.index)
    out = out.sort_values(["owner_rep", "priority", "handoff_id"], ascending=[True, False, True],
                          kind="stable").reset_index(drop=True)
    return out, late


def _route_text(v: Any) -> str:
    from leadflow.handoff.enqueue import reason_text
    return reason_text(v)


def _withdraw(ctx: RunContext, late: pd.DataFrame, status: str = "withdrawn") -> int:
    """Take people out of the day's lists (late suppression, or held by the quality gate),
    mark their handoff with ``status`` and log why in ``suppressions``."""
    if late.empty:
        return 0
    late = late.sort_values("person_id")
    with ctx.engine.begin() as conn:
        ids = late["handoff_id"].astype(int).tolist()
        for i in range(0, len(ids), 5000):
            conn.execute(sa.update(handoffs).where(handoffs.c.handoff_id.in_(ids[i:i + 5000]))
                         .values(status=status))
        db.insert_ignore(conn, suppressions, db.records(pd.DataFrame({
            "person_id": late["person_id"].astype("int64"), "cycle": late["cycle"].astype("int64"),
            "reason": late["suppressed"], "run_id": ctx.run_id, "run_date": ctx.run_date,
            "created_at": ctx.as_of})), ["person_id", "cycle", "run_date"])
    return len(late)


def _gate(df: pd.DataFrame, ctx: RunContext) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Run the handoff_list quality gate (the handoff_list suite of leadflow.quality).

    Rows failing it are held back from the lists (counted, with the expectation names).
    Returns the passing rows, counts for the run record, and the held rows to withdraw.
    """
    try:
        from leadflow.quality import validate_frame
    except ImportError:
        return df, {"quality_gate": "unavailable (leadflow.quality.validate_frame not found)"}, df.iloc[:0]
    frame = pd.DataFrame({
        "handoff_id": df["handoff_id"], "person_id": df["person_id"], "cycle": df["g_cycle"],
        "owner_rep": df["owner_rep"], "route_rule": df["g_route_rule"],
        "qualified_by": df["qualified_by"], "score": df["g_score"], "grade": df["grade"],
        "probability": df["g_probability"], "priority": df["g_priority"], "email": df["email"],
        "first_name": df["g_first_name"], "last_name": df["g_last_name"], "company": df["company"],
        "job_title": df["job_title"], "opt_out": df["g_opt_out"],
        "do_not_contact": df["g_do_not_contact"], "handed_off_at": df["g_handed_off_at"],
        "sla_due_at": df["g_sla_due_at"]}, index=df.index)
    from leadflow.quality.params import handoff_list_params
    passed, failed = validate_frame("handoff_list", frame, as_of=ctx.as_of,
                                    params={**handoff_list_params(ctx.settings), "as_of": ctx.as_of})
    reasons: dict[str, int] = {}
    if len(failed):
        for rs in failed["reasons"]:
            for r in (rs if isinstance(rs, (list, tuple)) else [rs]):
                reasons[str(r)] = reasons.get(str(r), 0) + 1
        log.warning("handoff_list gate held back %d lead(s): %s", len(failed), reasons)
    info: dict[str, Any] = {"quality_gate": "ran", "gate_held_back": int(len(failed)),
                            "gate_reasons": reasons}
    if len(failed):
        info["warnings"] = [f"handoff_list quality gate held back {len(failed)} lead(s) "
                            f"from the lists: {', '.join(sorted(reasons))}"]
    held = df.loc[failed.index, ["handoff_id", "person_id", "g_cycle"]].rename(columns={"g_cycle": "cycle"})
    held["suppressed"] = ["quality_gate:" + str((rs if isinstance(rs, (list, tuple)) else [rs])[0])
                          for rs in failed["reasons"]]
    return df.loc[passed.index], info, held


@dataclass
class _RepList:
    """One owner's list rendered in memory: published whole, attached as is, hashed for the outbox."""
    owner: str
    leads: int
    title: str
    html: str
    files: dict[str, bytes]
    text: str
    content_hash: str   # of the rows (CSV text): the same list hashes the same in every run


def _render(df: pd.DataFrame, ctx: RunContext) -> list[_RepList]:
    d = ctx.settings.delivery
    names = {r.id: r.name for r in ctx.settings.routing.reps}
    out = []
    for owner, g in df.groupby("owner_rep", sort=True):   # one iteration per rep, not per lead
        g = g.drop(columns=["owner_rep"] + [c for c in g.columns if c.startswith("g_")])
        base = lists.safe_name(str(owner))
        title = f"Lead list {ctx.run_date.isoformat()} for {names.get(owner, owner)}"
        csv = lists.csv_bytes(g)
        cards = lists.cards(g)
        html = lists.html_of(cards, title)
        blobs: dict[str, bytes] = {}
        if "csv" in d.formats:
            blobs[f"{base}.csv"] = csv
        if "xlsx" in d.formats:
            blobs[f"{base}.xlsx"] = lists.xlsx_bytes(g, title)
        if "html" in d.formats:
            blobs[f"{base}.html"] = html.encode("utf-8")
        out.append(_RepList(str(owner), len(g), title, html, blobs, text=lists.plain_text_of(cards, title),
                            content_hash=hashlib.sha256(csv).hexdigest()))
    return out


def owner_part(owners: pd.Series, part: partition.Part | None) -> Any:
    """True for the rows whose owner's list is delivered by partition ``part``: the partition of
    the list's file name, so a partition also knows which files of the day's folder are its own."""
    names = {o: lists.safe_name(str(o)) for o in pd.unique(owners)}    # per rep, not per lead
    return partition.mask(owners.map(names), part)


def _publish(out_dir: Path, reps: list[_RepList], part: partition.Part | None = None) -> list[Path]:
    """Replace the day's folder as a whole (a withdrawn lead vanishes from a re-run's lists);
    a partition replaces only its own owners' files in it. On a write error the previous
    version stays and nothing is emailed."""
    blobs = {n: b for r in reps for n, b in r.files.items()}
    try:
        if part is None:
            return shared.publish_dir(out_dir, blobs)
        return shared.publish_some(out_dir, blobs,
                                   lambda names: partition.mask(pd.Series(names).str.rsplit(".", n=1).str[0], part))
    except OSError as e:
        code = errno.errorcode.get(e.errno or 0)
        raise mail.DeliveryError(
            f"lead lists not written to {out_dir}: {e.strerror or type(e).__name__}"
            + (f" ({code})" if code else "") + "; the previous lists are unchanged, nothing emailed"
        ) from None


def _message(r: _RepList, to: str, kind: str, ctx: RunContext) -> EmailMessage:
    day = ctx.run_date.isoformat()
    if kind == "update":
        subject = "Updated " + r.title[:1].lower() + r.title[1:]
        text = (f"Your lead list for {day} has changed: it now has {r.leads} lead(s), highest "
                "priority first, and replaces the earlier one. Attached (CSV and XLSX) and shown below.")
    else:
        subject = r.title
        text = (f"{r.leads} new lead(s) for {day}, highest priority first. "
                "The list is attached (CSV and XLSX) and shown below.")
    attach = {n: b for n, b in r.files.items() if n.endswith((".csv", ".xlsx"))}
    return mail.build_message(ctx.settings.delivery.smtp.sender, to, subject, r.html,
                              text + "\n\n" + r.text, attach)


def _send(ctx: RunContext, reps: list[_RepList]) -> dict[str, int]:
    """Email each rep's list once per content through the outbox: an unchanged list is never
    re-sent, a changed one goes out once as an update, and of concurrent runs only the one that
    claimed a row sends it."""
    emails = {r.id: r.email for r in ctx.settings.routing.reps if r.email}
    mine = {r.owner: r for r in reps if r.owner in emails}   # fallback queue: files only
    outbox.add(ctx.engine, ctx.run_date, {o: (r.content_hash, r.leads) for o, r in mine.items()})
    claimed = outbox.claim(ctx.engine, ctx.run_date, {o: r.content_hash for o, r in mine.items()},
                           ctx.run_id)
    todo = sorted(claimed)
    ids = [claimed[o][0] for o in todo]
    sent: list[int] = []

    def done(i: int) -> None:
        outbox.mark_sent(ctx.engine, ids[i])
        sent.append(ids[i])

    try:
        mail.send_all(ctx.settings.delivery.smtp,
                      [_message(mine[o], emails[o], claimed[o][1], ctx) for o in todo], on_sent=done)
    except Exception as e:
        why = str(e) if isinstance(e, LeadflowError) else type(e).__name__
        outbox.mark_failed(ctx.engine, [i for i in ids if i not in sent], why)
        raise
    return {"emailed": len(sent), "email_updates": sum(claimed[o][1] == "update" for o in todo),
            "email_unchanged": len(mine) - len(todo)}


def deliver(ctx: RunContext, part: partition.Part | None = None) -> dict[str, Any]:
    """Publish each owner's list for ctx.run_date, then email reps when delivery.email_enabled.

    ``part`` (k, n): only the owners of partition k of n (a hash of the list's file name), so
    mapped tasks on several workers share the day; partition 0 also withdraws other dates'
    open handoffs of people who must not be contacted."""
    withdrawn_open = 0
    if part is None or part[0] == 0:
        with ctx.engine.begin() as conn:   # open handoffs of any date whose person opted out since
            withdrawn_open = withdraw_blocked(conn, ctx)
    df, late = brief(ctx, part)
    counts: dict[str, Any] = {"withdrawn_late": _withdraw(ctx, late), "files": 0, "emailed": 0,
                              "leads": 0, "per_rep": {}, "paths": [], "withdrawn_open": withdrawn_open}
    out_dir = ctx.settings.lists_dir / ctx.run_date.isoformat()
    if df.empty and not out_dir.exists():
        return counts
    if not df.empty:
        df, gate, held = _gate(df, ctx)
        counts.update(gate)
        _withdraw(ctx, held, status="held")   # held back from the lists, never silently
    reps = _render(df, ctx)
    paths = _publish(out_dir, reps, part)
    counts.update(files=len(paths), paths=[str(p) for p in paths], leads=len(df),
                  lists_dir=str(out_dir), per_rep={r.owner: r.leads for r in reps})
    checkpoint("deliver:published")
    if ctx.settings.delivery.email_enabled:
        counts.update(_send(ctx, reps))
    log.info("deliver %s: %s files, %s emailed, %s withdrawn", ctx.run_date, counts["files"],
             counts["emailed"], counts["withdrawn_late"])
    return counts
