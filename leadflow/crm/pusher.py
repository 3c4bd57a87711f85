"""Push the day's handoffs to each CRM destination, and withdrawals after them, through the outbox.

Guarantees (see leadflow.store.crm_outbox and docs/crm.md):
- idempotent: every push is an upsert by key (email, or ``lf-<person id>`` in an external id
  field) or an update by the CRM id stored at upsert; a re-run finds nothing pending and sends
  nothing, a retried or reclaimed batch updates the same records;
- resumable: rows are claimed one batch at a time and marked as soon as the CRM answers, so a
  killed push leaves at most ``max_concurrency`` batches in ``sending`` and the next run pushes
  the rest (and those, once their lease expired);
- rate-limited: at most ``max_concurrency`` batches in flight; 429 and Retry-After pause all
  workers (leadflow.crm.http);
- owner tasks (HubSpot ``owner_task``, opt-in): after the upserts, one ``task`` row per handoff
  whose contact id came back; the task id is stored; a task row tried before is looked up in
  HubSpot before it is created, so retries, re-runs and kills never make a second task;
- partial failures: a record the CRM rejects is marked ``rejected`` with the CRM's reason and
  reported as a warning (run status, alert, ``leadflow crm status``); the others go through.
"""

from __future__ import annotations

import logging
import math
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow.config import CRM_COLUMNS, CrmBase, HubSpotDestination
from leadflow.context import RunContext
from leadflow.crm import hubspot, salesforce
from leadflow.crm.base import Connector, Outcome, Record
from leadflow.crm.http import Api, CrmAuthError, CrmError, resolve_token
from leadflow.store import crm_outbox, db

log = logging.getLogger("leadflow.crm")

_PAYLOAD_SQL = """
SELECT h.handoff_id, h.person_id, h.owner_rep, h.qualified_by, h.score, h.grade, h.probability,
       h.priority, h.sla_due_at, h.run_date,
       p.first_name, p.last_name, p.email_norm AS email, p.phone_e164 AS phone, p.job_title,
       p.company, p.country, p.first_channel AS channel,
       c.name AS campaign, s.reasons
FROM handoffs h
JOIN people p ON p.person_id = h.person_id
LEFT JOIN campaigns c ON c.campaign_id = p.first_campaign_id
LEFT JOIN scores s ON s.person_id = h.person_id AND s.score_date = h.run_date
WHERE h.handoff_id IN ({ids})
"""


def connector(dest: CrmBase, api: Api) -> Connector:
    if isinstance(dest, HubSpotDestination):
        return hubspot.HubSpot(dest, api)
    return salesforce.Salesforce(dest, api)  # type: ignore[arg-type]


def _module(dest: CrmBase) -> Any:
    return hubspot if isinstance(dest, HubSpotDestination) else salesforce


def field_map(dest: CrmBase) -> dict[str, str]:
    """CRM field → leadflow column: the connector's defaults overridden by ``fields`` ('' drops one)."""
    return {k: v for k, v in {**_module(dest).DEFAULT_FIELDS, **dest.fields}.items() if v}


def _value(v: Any, as_text: bool) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        v = v.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif hasattr(v, "item"):
        v = v.item()     # numpy scalar → Python
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if as_text:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return v


def payload(ctx: RunContext, dest: CrmBase, handoff_ids: list[int]) -> pd.DataFrame:
    """One row per handoff with the columns a field mapping may name (see docs/crm.md)."""
    from leadflow.handoff.delivery import _reasons_text
    sql = _PAYLOAD_SQL.format(ids=", ".join(str(int(i)) for i in handoff_ids))
    df = db.read_df(ctx.engine, sa.text(sql))
    df["name"] = (df["first_name"].fillna("") + " " + df["last_name"].fillna("")).str.strip()
    df["top_reasons"] = df["reasons"].map(lambda v: _reasons_text(v, ctx.settings.delivery.top_reasons))
    df["sla_due_at"] = pd.to_datetime(df["sla_due_at"], format="mixed")
    df["leadflow_id"] = "lf-" + df["person_id"].astype("int64").astype(str)
    df["owner_id"] = df["owner_rep"].map(dest.owners)
    if dest.default_owner_id:
        df["owner_id"] = df["owner_id"].fillna(dest.default_owner_id)
    return df.drop(columns=["reasons"]).set_index("handoff_id", drop=False)


def _key(dest: CrmBase, row: Any) -> str | None:
    if isinstance(dest, HubSpotDestination) and dest.id_from == "email":
        return row["email"] if isinstance(row["email"], str) and row["email"] else None
    return row["leadflow_id"]


def _records(ctx: RunContext, dest: CrmBase, rows: pd.DataFrame) -> tuple[list[tuple[int, Record]],
                                                                         list[tuple[int, str]]]:
    """(outbox id, record) to send, and (outbox id, why) for rows that cannot be sent at all."""
    mod, text = _module(dest), isinstance(dest, HubSpotDestination)
    todo: list[tuple[int, Record]] = []
    bad: list[tuple[int, str]] = []
    ups = rows[rows["action"] == "upsert"]
    if len(ups):
        data = payload(ctx, dest, ups["handoff_id"].astype(int).tolist())
        fmap = field_map(dest)
        for oid, hid in zip(ups["crm_outbox_id"], ups["handoff_id"]):   # one batch (≤ 200 rows)
            row = data.loc[int(hid)]
            key = _key(dest, row)
            if key is None:
                bad.append((int(oid), "no email address to upsert by (id_from: email)"))
                continue
            fields = {k: _value(row[c], text) for k, c in fmap.items() if c in row.index}
            fields = {k: v for k, v in fields.items() if v is not None}
            owner = _value(row["owner_id"], True)
            if owner:
                fields[mod.OWNER_FIELD] = owner
            todo.append((int(oid), Record(str(key), fields)))
    wds = rows[rows["action"] == "withdraw"]
    for oid, crm_id in zip(wds["crm_outbox_id"], wds["upsert_crm_id"]):
        if not isinstance(crm_id, str) or not crm_id:
            bad.append((int(oid), "no CRM id stored for this handoff"))
            continue
        fields = {k: _value(v, text) for k, v in {**mod.DEFAULT_WITHDRAW, **dest.withdraw_fields}.items()}
        if isinstance(dest, HubSpotDestination):
            fields[mod.OWNER_FIELD] = ""        # unassign
        elif dest.default_owner_id:
            fields[mod.OWNER_FIELD] = dest.default_owner_id
        todo.append((int(oid), Record(crm_id, fields)))
    return todo, bad


def _task_records(ctx: RunContext, dest: HubSpotDestination,
                  rows: pd.DataFrame) -> tuple[list[tuple[int, Record]], list[tuple[int, str]]]:
    """(outbox id, task) for ``task`` rows: owner, due time, subject from the template, the lead's
    brief reasons as the body, associated with the contact id the upsert returned."""
    cfg, todo, bad = dest.owner_task, [], []
    data = payload(ctx, dest, rows["handoff_id"].astype(int).tolist())
    pushed_at = pd.Timestamp(crm_outbox.now())
    for oid, hid, contact in zip(rows["crm_outbox_id"], rows["handoff_id"], rows["upsert_crm_id"]):
        row = data.loc[int(hid)]
        owner = _value(row["owner_id"], True)
        if not owner or not isinstance(contact, str) or not contact:
            bad.append((int(oid), "no owner to assign the task to" if not owner else "no contact id stored"))
            continue
        due = row["sla_due_at"] if cfg.due_hours is None else pushed_at + pd.Timedelta(hours=cfg.due_hours)
        due = pushed_at if pd.isna(due) else due
        values = {c: ("" if (v := _value(row[c], True)) is None else v) for c in CRM_COLUMNS if c in row.index}
        fields = {"hs_task_subject": cfg.subject.format(**values)[:255],
                  "hs_task_body": values.get("top_reasons", ""),
                  "hs_timestamp": str(int(pd.Timestamp(due).timestamp() * 1000)),
                  "hubspot_owner_id": owner, "hs_task_status": "NOT_STARTED",
                  "hs_task_priority": cfg.priority, "hs_task_type": cfg.task_type}
        todo.append((int(oid), Record(f"lf-task-{int(hid)}", fields, to=contact)))
    return todo, bad


def _send_tasks(con: hubspot.HubSpot, todo: list[tuple[int, Record]], tried: set[int]) -> list[Outcome]:
    """Tasks have no upsert key: one tried before (killed push, lost answer) is looked up first
    and only created if HubSpot has none, so each handoff gets exactly one task."""
    found = {i: con.find_task(r) for i, r in todo if i in tried}
    new = [r for i, r in todo if not found.get(i)]
    made = iter(con.create_tasks(new) if new else [])
    return [Outcome(True, found[i], False) if found.get(i) else next(made) for i, _ in todo]


def _archive_tasks(con: hubspot.HubSpot, rows: pd.DataFrame, todo: list[tuple[int, Record]],
                   outs: list[Outcome]) -> None:
    """A withdrawn lead's owner task is archived with the contact's withdrawal (a failure fails
    the batch, retried next run: both writes are idempotent)."""
    done = {i for (i, _), o in zip(todo, outs) if o.ok}
    tasks = rows.loc[rows["crm_outbox_id"].astype(int).isin(done), "task_crm_id"].dropna()
    if len(tasks):
        con.archive_tasks(sorted({str(x) for x in tasks}))


def _redact(error: str, rec: Record) -> str:
    """CRMs echo the rejected value ("INVALID_EMAIL x@y"); values too malformed for the generic
    scrubber are removed here by exact match against what was sent."""
    vals = sorted({str(v) for v in [rec.key, *rec.fields.values()] if isinstance(v, str) and len(v) >= 4},
                  key=len, reverse=True)
    for v in vals:
        error = error.replace(v, "[redacted]")
    return error


def _batch(ctx: RunContext, dest: CrmBase, con: Connector, action: str, ids: list[int]) -> dict[str, int]:
    """Push one claimed batch and record every row's outcome; returns counts."""
    eng = ctx.engine
    try:
        rows = crm_outbox.rows(eng, ids)
        outs: list[Outcome] = []
        if action == "task":
            todo, bad = _task_records(ctx, dest, rows)  # type: ignore[arg-type]
            tried = set(rows.loc[rows["attempts"] > 1, "crm_outbox_id"].astype(int))
            outs = _send_tasks(con, todo, tried) if todo else []  # type: ignore[arg-type]
        else:
            todo, bad = _records(ctx, dest, rows)
            recs = [r for _, r in todo]
            if recs:
                outs = con.upsert(recs) if action == "upsert" else con.withdraw(recs)
            if action == "withdraw" and isinstance(con, hubspot.HubSpot):
                _archive_tasks(con, rows, todo, outs)
    except CrmError as e:
        crm_outbox.failed(eng, ids, str(e))
        raise
    except Exception as e:
        crm_outbox.failed(eng, ids, f"{type(e).__name__}")
        raise
    ok = [(i, o.crm_id, o.created) for (i, _), o in zip(todo, outs) if o.ok]
    no = bad + [(i, _redact(o.error or "rejected", r)) for (i, r), o in zip(todo, outs) if not o.ok]
    crm_outbox.pushed(eng, ok)
    crm_outbox.rejected(eng, no)
    return {"pushed": len(ok), "created": sum(bool(c) for _, _, c in ok), "rejected": len(no)}


def push_destination(ctx: RunContext, dest: CrmBase) -> dict[str, Any]:
    """Enqueue the run date's handoffs and due withdrawals for ``dest``, then push them."""
    counts: dict[str, Any] = crm_outbox.enqueue(ctx.engine, dest.name, ctx.run_date)
    base, token = resolve_token(dest)
    api = Api(dest, base, token)
    con = connector(dest, api)
    token_id = f"{ctx.run_id}#{uuid.uuid4().hex[:8]}"   # this push's claims (run ids repeat on re-runs)
    lease = timedelta(seconds=dest.claim_lease_seconds)
    tally = {"pushed": 0, "created": 0, "rejected": 0, "failed": 0, "withdrawn": 0, "tasks": 0}
    key = {"upsert": "pushed", "task": "tasks", "withdraw": "withdrawn"}
    errors: list[str] = []
    stop = False
    with ThreadPoolExecutor(max_workers=dest.max_concurrency, thread_name_prefix=f"crm-{dest.name}") as ex:
        for action in ("upsert", "task", "withdraw"):   # tasks and withdrawals need the contacts' ids
            if action == "task":
                if not (isinstance(dest, HubSpotDestination) and dest.owner_task.enabled):
                    continue
                counts["tasks_enqueued"] = crm_outbox.enqueue_tasks(ctx.engine, dest.name, ctx.run_date)
            running: dict[Future[dict[str, int]], list[int]] = {}
            while True:
                while not stop and len(running) < dest.max_concurrency:
                    ids = crm_outbox.claim(ctx.engine, dest.name, action, token_id, dest.batch_size, lease)
                    if not ids:
                        break
                    running[ex.submit(_batch, ctx, dest, con, action, ids)] = ids
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for f in done:
                    ids = running.pop(f)
                    try:
                        got = f.result()
                    except CrmAuthError as e:
                        stop = True
                        tally["failed"] += len(ids)
                        errors.append(str(e))
                        continue
                    except CrmError as e:
                        tally["failed"] += len(ids)
                        errors.append(str(e))
                        continue
                    tally[key[action]] += got["pushed"]
                    tally["created"] += got["created"] if action == "upsert" else 0
                    tally["rejected"] += got["rejected"]
            if stop:
                break
    counts.update(tally, requests=api.stats["requests"], throttled=api.stats["throttled"],
                  retries=api.stats["retries"])
    if stop:
        raise CrmAuthError(errors[-1])
    warnings = []
    if tally["rejected"]:
        warnings.append(f"crm {dest.name}: {tally['rejected']} record(s) rejected by the CRM's "
                        "validation (see `leadflow crm status`)")
    if tally["failed"]:
        warnings.append(f"crm {dest.name}: {tally['failed']} record(s) not pushed, retried by the next "
                        f"run: {errors[-1]}")
    if warnings:
        counts["warnings"] = warnings
    log.info("crm %s %s: %s", dest.name, ctx.run_date, {k: v for k, v in counts.items() if k != "warnings"})
    return counts


def push(ctx: RunContext, destination: str | None = None) -> dict[str, Any]:
    """Push to one named destination (even when disabled) or to every enabled one."""
    dests = ([ctx.settings.crm_destination(destination)] if destination
             else [d for d in ctx.settings.crm.destinations if d.enabled])
    out: dict[str, Any] = {"destinations": {}}
    warnings: list[str] = []
    for d in dests:
        c = push_destination(ctx, d)
        warnings += c.pop("warnings", [])
        out["destinations"][d.name] = c
        for k in ("enqueued", "pushed", "created", "rejected", "failed", "withdrawn", "tasks"):
            out[k] = out.get(k, 0) + c.get(k, 0)
    if warnings:
        out["warnings"] = warnings
    return out
