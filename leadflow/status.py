"""What happened: per-run-date summaries read back from the warehouse (not from memory).

Used by ``leadflow run``/``summary``/``status`` and the demo, so the numbers a person reads are
the numbers stored.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from leadflow.store.schema import (
    STAGING,
    handoffs,
    ingest_batches,
    lifecycle_events,
    person_records,
    pipeline_runs,
    quarantine,
    suppressions,
)


def _scalar(conn: sa.Connection, q: Any) -> int:
    return int(conn.execute(q).scalar() or 0)


def run_summary(eng: sa.Engine, settings: Any, run_date: date) -> dict[str, Any]:
    """Counts for one run date: rows read, quarantined, people created/merged, MQLs, handoffs."""
    b = ingest_batches
    day_batches = sa.select(b.c.batch_id).where(b.c.business_date == run_date)
    with eng.connect() as c:
        read = c.execute(sa.select(sa.func.coalesce(sa.func.sum(b.c.rows_in), 0),
                                   sa.func.coalesce(sa.func.sum(b.c.rows_landed), 0),
                                   sa.func.coalesce(sa.func.sum(b.c.rows_rejected), 0))
                         .where(b.c.business_date == run_date)).one()
        # every row the day quarantined, whatever became of it since (discarded rows stay counted)
        q_status: dict[str, int] = dict(c.execute(sa.select(quarantine.c.status, sa.func.count())
                                  .where(quarantine.c.batch_id.in_(day_batches))
                                  .group_by(quarantine.c.status)).all())
        # leads already loaded unchanged, events repeated unchanged, records of erased people
        rows_suppressed = sum(_scalar(c, sa.select(sa.func.count()).select_from(t)
                                      .where(t.c.batch_id.in_(day_batches), t.c.state == "suppressed"))
                              for t in STAGING.values())
        pr = person_records
        created = _scalar(c, sa.select(sa.func.count()).select_from(pr)
                          .where(pr.c.batch_id.in_(day_batches), pr.c.match_rule == "new"))
        merged = _scalar(c, sa.select(sa.func.count()).select_from(pr)
                         .where(pr.c.batch_id.in_(day_batches), pr.c.match_rule != "new"))
        le = lifecycle_events
        mql = _scalar(c, sa.select(sa.func.count()).select_from(le)
                      .where(le.c.to_stage == "mql", sa.func.date(le.c.occurred_at) == run_date.isoformat())
                      if eng.dialect.name == "sqlite" else
                      sa.select(sa.func.count()).select_from(le)
                      .where(le.c.to_stage == "mql", sa.cast(le.c.occurred_at, sa.Date) == run_date))
        sup = _scalar(c, sa.select(sa.func.count()).select_from(suppressions)
                      .where(suppressions.c.run_date == run_date))
        per_rep: dict[str, int] = dict(c.execute(
            sa.select(handoffs.c.owner_rep, sa.func.count()).where(handoffs.c.run_date == run_date)
            .group_by(handoffs.c.owner_rep).order_by(handoffs.c.owner_rep)).all())
    return {
        "run_date": run_date.isoformat(), "rows_read": int(read[0]), "rows_landed": int(read[1]),
        "rows_rejected": int(read[2]), "quarantined": int(sum(q_status.values())),
        "quarantine_open": int(q_status.get("open", 0)), "discarded": int(q_status.get("discarded", 0)),
        "rows_suppressed": rows_suppressed,
        "people_created": created, "records_merged": merged, "mql": mql, "suppressed": sup,
        "handed_off": sum(per_rep.values()), "per_rep": per_rep,
        "lists_dir": str(settings.lists_dir / run_date.isoformat()),
    }


#: The intraday path's job (leadflow.intraday.JOB): its passes are listed apart (intraday_rows),
#: since a pass every few minutes would push the daily runs out of "last runs".
INTRADAY_JOB = "speed_to_lead"


def status_rows(eng: sa.Engine, limit: int = 10) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The last runs (one row per run id) with their summary, plus open issues."""
    p = pipeline_runs
    with eng.connect() as c:
        runs = c.execute(sa.select(p.c.run_id, p.c.run_date, sa.func.count().label("steps"),
                                   sa.func.max(p.c.id).label("last"))
                         .where(p.c.job != INTRADAY_JOB)
                         .group_by(p.c.run_id, p.c.run_date)
                         .order_by(sa.desc("last")).limit(limit)).all()
        statuses = c.execute(sa.select(p.c.run_id, p.c.task, p.c.status, p.c.message)
                             .where(p.c.run_id.in_([r.run_id for r in runs]))
                             .order_by(p.c.id)).all()
        q_open = _scalar(c, sa.select(sa.func.count()).select_from(quarantine)
                         .where(quarantine.c.status == "open"))
        breached = _scalar(c, sa.select(sa.func.count()).select_from(handoffs)
                           .where(handoffs.c.sla_breached.is_(True)))
        deadlines = _scalar(c, sa.select(sa.func.count()).select_from(p)
                            .where(p.c.status == "breached"))
    latest: dict[tuple[str, str], tuple[str, str | None]] = {}
    for s in statuses:
        latest[(s.run_id, s.task)] = (s.status, s.message)   # later rows win: the last attempt
    _mark_interrupted(eng, latest)
    out, warnings = [], []
    rank = {"success": 0, "warning": 1, "running": 2, "breached": 3, "interrupted": 4, "failed": 5}
    for r in runs:
        st = [v for (rid, _t), v in latest.items() if rid == r.run_id]
        worst = max((x[0] for x in st), key=lambda x: rank.get(x, 0), default="")
        warnings += [f"{r.run_id} {t}: {m}" for (rid, t), (s, m) in latest.items()
                     if rid == r.run_id and s in ("warning", "failed", "interrupted") and m]
        row = {"run_id": r.run_id, "run_date": r.run_date, "steps": r.steps, "status": worst}
        if r.run_date:
            summ = run_summary(eng, _NoSettings(), r.run_date)
            row.update(read=summ["rows_read"], quarantined=summ["quarantined"],
                       created=summ["people_created"], merged=summ["records_merged"],
                       mql=summ["mql"], handed_off=summ["handed_off"], suppressed=summ["suppressed"])
        out.append(row)
    return out, {"quarantine_open": q_open, "sla_breached": breached,
                 "deadlines_missed": deadlines, "warnings": warnings[:20]}


def intraday_rows(eng: sa.Engine, limit: int = 5,
                  since: timedelta = timedelta(hours=24)) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The last speed-to-lead passes (events and sweeps) with their own counts, and totals over
    ``since`` (passes, failed passes, handed off, notifications sent and failed)."""
    p = pipeline_runs
    with eng.connect() as c:
        last = c.execute(sa.select(p.c.run_id, p.c.status, p.c.started_at, p.c.counts, p.c.message)
                         .where(p.c.job == INTRADAY_JOB).order_by(p.c.id.desc()).limit(limit)).all()
        start = c.execute(sa.select(sa.func.max(p.c.started_at)).where(p.c.job == INTRADAY_JOB)).scalar()
        recent = c.execute(sa.select(p.c.status, p.c.counts).where(
            p.c.job == INTRADAY_JOB, p.c.started_at >= (_as_dt(start) - since))).all() if start else []
    latest = {(r.run_id, "intraday"): (r.status, r.message) for r in reversed(last)}   # newest wins
    _mark_interrupted(eng, latest)
    rows = [{"run_id": r.run_id, "status": latest[(r.run_id, "intraday")][0], "started_at": r.started_at,
             **{k: (r.counts or {}).get(k, "") for k in _PASS_COUNTS}} for r in last]
    total = {"passes": len(recent), "failed_passes": sum(r.status == "failed" for r in recent),
             **{k: sum(int((r.counts or {}).get(k) or 0) for r in recent)
                for k in ("handed_off", "sent", "failed")}}
    return rows, total


_PASS_COUNTS = ("seconds", "landed_batches", "passed", "quarantined", "handed_off", "suppressed",
                "sent", "failed")


def _as_dt(v: Any) -> datetime:
    return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))


def _mark_interrupted(eng: sa.Engine, latest: dict[tuple[str, str], tuple[str, str | None]]) -> None:
    """A ``running`` step whose run does not hold the run lock died: show it as interrupted.

    Live steps always hold the lock (see monitor.step), and the lock dies with its process."""
    if not any(st == "running" for st, _m in latest.values()):
        return
    from leadflow.monitor import INTERRUPTED, shares_lock
    from leadflow.store.locks import holder
    live = holder(eng)
    for (rid, task), (st, _m) in list(latest.items()):
        # shared holders (ingest tasks) are not all named in run_locks: a held lock covers them
        if st == "running" and not (live and (live.get("run_id") == rid or shares_lock(task))):
            latest[(rid, task)] = ("interrupted", INTERRUPTED)


def quality_by_source(eng: sa.Engine, limit: int = 5) -> list[dict[str, Any]]:
    """Per-source results of the most recent quality steps: rows, passed, quarantined, top checks."""
    p = pipeline_runs
    with eng.connect() as c:
        rows = c.execute(sa.select(p.c.run_id, p.c.status, p.c.counts)
                         .where(p.c.task == "quality").order_by(p.c.id.desc()).limit(limit)).all()
    out = []
    for r in rows:
        for src, v in ((r.counts or {}).get("by_source") or {}).items():
            top = sorted((v.get("expectations") or {}).items(), key=lambda kv: -kv[1])[:3]
            out.append({"run_id": r.run_id, "source": src, "rows": v.get("rows", 0),
                        "passed": v.get("passed", 0), "quarantined": v.get("quarantined", 0),
                        "top_failures": ", ".join(f"{k} ({n})" for k, n in top)})
    return out


class _NoSettings:
    """Stand-in when only counts are needed (no lead-list path)."""

    from pathlib import Path as _P
    lists_dir = _P(".")
