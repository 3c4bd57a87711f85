"""Delivery: each rep's daily lead list (CSV, XLSX, HTML) written to a folder and emailed.

Contact flags are checked again right before publishing: a person who opted out (or became
do-not-contact, erased, a competitor, a customer or in an open deal) after queueing is withdrawn
from the queue, logged in ``suppressions`` and never appears in a list or an email.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.handoff import lists, mail
from leadflow.qualify import suppression_reason
from leadflow.store import db
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


def brief(ctx: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run date's queued handoffs as list rows, and those withdrawn now (late suppression)."""
    d = ctx.settings.delivery
    with ctx.engine.connect() as conn:
        raw = db.read_df(conn, sa.text(_LIST_SQL).bindparams(sa.bindparam("d", type_=sa.Date)),
                         {"d": ctx.run_date})
        if raw.empty:
            return raw, raw
        raw["erased_at"] = pd.to_datetime(raw["erased_at"], format="mixed")
        raw["suppressed"] = suppression_reason(raw, ctx.settings.qualification)
        late = raw[raw["suppressed"].notna()]
        ok = raw[raw["suppressed"].isna()].copy()
        touches = _recent_touches(conn, ok["person_id"].astype(int).tolist(), ctx, d.recent_touches)
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


def _gate(df: pd.DataFrame, ctx: RunContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the handoff_list quality gate (the handoff_list suite of leadflow.quality).

    Rows failing it are held back from the lists (counted, with the expectation names).
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


def deliver(ctx: RunContext) -> dict[str, Any]:
    """Write each owner's list for ctx.run_date and email reps when delivery.email_enabled."""
    d = ctx.settings.delivery
    df, late = brief(ctx)
    counts: dict[str, Any] = {"withdrawn_late": _withdraw(ctx, late), "files": 0, "emailed": 0,
                              "leads": 0, "per_rep": {}}
    out_dir = ctx.settings.lists_dir / ctx.run_date.isoformat()
    if out_dir.is_dir():   # a re-run rewrites the day's lists (a withdrawn lead must vanish)
        for old in out_dir.iterdir():
            if old.suffix in (".csv", ".xlsx", ".html"):
                old.unlink()
    if df.empty:
        counts["paths"] = []
        return counts
    df, gate, held = _gate(df, ctx)
    counts.update(gate)
    _withdraw(ctx, held, status="held")   # held back from the lists, never silently
    out_dir.mkdir(parents=True, exist_ok=True)
    emails = {r.id: r.email for r in ctx.settings.routing.reps if r.email}
    names = {r.id: r.name for r in ctx.settings.routing.reps}
    paths: list[str] = []
    messages = []
    for owner, g in df.groupby("owner_rep", sort=True):   # one iteration per rep, not per lead
        g = g.drop(columns=["owner_rep"] + [c for c in g.columns if c.startswith("g_")])
        base = out_dir / lists.safe_name(str(owner))
        title = f"Lead list {ctx.run_date.isoformat()} for {names.get(owner, owner)}"
        written = []
        if "csv" in d.formats:
            written.append(lists.to_csv(g, base.with_suffix(".csv")))
        if "xlsx" in d.formats:
            written.append(lists.to_xlsx(g, base.with_suffix(".xlsx"), title))
        html = lists.to_html_text(g, title)
        if "html" in d.formats:
            written.append(lists.to_html(html, base.with_suffix(".html")))
        paths += [str(p) for p in written]
        counts["per_rep"][str(owner)] = int(len(g))
        if d.email_enabled and owner in emails:
            text = (f"{len(g)} new lead(s) for {ctx.run_date.isoformat()}, highest priority first. "
                    "The list is attached (CSV and XLSX) and shown below.")
            messages.append(mail.build_message(
                d.smtp.sender, emails[owner], title, html, text,
                [p for p in written if p.suffix in (".csv", ".xlsx")]))
    counts["files"] = len(paths)
    counts["paths"] = paths
    counts["leads"] = int(len(df))
    counts["lists_dir"] = str(out_dir)
    if messages:
        counts["emailed"] = mail.send_all(d.smtp, messages)
    log.info("deliver %s: %s files, %s emailed, %s withdrawn", ctx.run_date, counts["files"],
             counts["emailed"], counts["withdrawn_late"])
    return counts
