"""HTML run summary: what a run did at a glance, written to ``reports/runs/<run_id>.html``.

Shows this run's tasks (status, seconds, counts, one-line message), the quality results (the
quality step's counts and the open quarantine per source), SLA breaches (missed run deadlines
recorded by ``alerts.deadline_missed`` and handoffs past their SLA) and the last runs of every
job. Built from the warehouse only (``pipeline_runs``, ``quarantine``, ``handoffs``); holds ids
and counts, never PII. Self-contained: opens offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadflow.store import shared
from leadflow.store.schema import handoffs, pipeline_runs, quarantine

_STATUS_RANK = {"failed": 5, "interrupted": 4, "breached": 3, "warning": 2, "running": 1, "success": 0}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadflow run {{ run_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3}
.success{color:#17672b}.warning{color:#8a6100}.failed,.breached,.interrupted{color:#b00020;font-weight:bold}
code{font-size:.85em}
</style></head><body>
<h1>leadflow run <code>{{ run_id }}</code></h1>
<p>job <b>{{ job }}</b> · run date <b>{{ run_date }}</b> · status
<span class="{{ status }}">{{ status }}</span> · {{ seconds }} s in steps</p>

<h2>Tasks</h2>
<table><tr><th>task</th><th>status</th><th>seconds</th><th>counts</th><th>message</th></tr>
{% for t in tasks %}<tr><td>{{ t.task }}</td><td class="{{ t.status }}">{{ t.status }}</td>
<td>{{ t.seconds }}</td><td><code>{{ t.counts }}</code></td><td>{{ t.message or "" }}</td></tr>
{% else %}<tr><td colspan="5">no steps recorded for this run</td></tr>{% endfor %}
</table>

<h2>Quality</h2>
{% if quality %}<p>quality step: <code>{{ quality }}</code></p>{% else %}<p>no quality step in this run</p>{% endif %}
<table><tr><th>source</th><th>stage</th><th>open quarantined rows</th></tr>
{% for q in quarantine %}<tr><td>{{ q.source }}</td><td>{{ q.stage }}</td><td>{{ q.n }}</td></tr>
{% else %}<tr><td colspan="3">quarantine is empty</td></tr>{% endfor %}
</table>

<h2>SLA breaches</h2>
<table><tr><th>job</th><th>run date</th><th>what</th></tr>
{% for b in breaches %}<tr><td>{{ b.job }}</td><td>{{ b.run_date }}</td><td class="breached">{{ b.message }}</td></tr>
{% else %}<tr><td colspan="3">no missed run deadlines</td></tr>{% endfor %}
</table>
<p>handoffs past their SLA: <b>{{ handoff_breaches.total }}</b>
{% if handoff_breaches.by_rep %} ({% for r, n in handoff_breaches.by_rep %}{{ r }}: {{ n }}\
{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}</p>

<h2>Last runs</h2>
<table><tr><th>run</th><th>job</th><th>run date</th><th>status</th><th>tasks</th><th>seconds</th></tr>
{% for r in last_runs %}<tr><td><code>{{ r.run_id }}</code></td><td>{{ r.job }}</td><td>{{ r.run_date }}</td>
<td class="{{ r.status }}">{{ r.status }}</td><td>{{ r.tasks }}</td><td>{{ r.seconds }}</td></tr>{% endfor %}
</table>
</body></html>
"""


def _flat(counts: Any, prefix: str = "") -> str:
    if not isinstance(counts, dict):
        return ""
    parts: list[str] = []
    for k, v in counts.items():
        if k == "seconds":
            continue
        if isinstance(v, dict):
            inner = _flat(v, f"{prefix}{k}.")
            if inner:
                parts.append(inner)
        elif isinstance(v, (list, tuple)):
            parts.append(f"{prefix}{k}={len(v)}")
        else:
            parts.append(f"{prefix}{k}={v}")
    return " ".join(parts)


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 1)) if statuses else "unknown"


def collect(engine: sa.Engine, run_id: str, last: int = 15) -> dict[str, Any]:
    """Everything the summary shows, as plain data (also handy for tests and the CLI)."""
    from leadflow.scrub import scrub

    with engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(
            sa.select(pipeline_runs).where(pipeline_runs.c.run_id == run_id)
            .order_by(pipeline_runs.c.id))]
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:                       # a retried or re-run task: its latest record counts
            latest[r["task"]] = r
        tasks = [{"task": r["task"], "status": r["status"],
                  "seconds": (r["counts"] or {}).get("seconds", ""),
                  "counts": _flat(r["counts"] or {}),
                  "message": scrub(r["message"]) if r["message"] else ""}
                 for r in latest.values() if r["task"] != "deadline"]
        quality = next((t["counts"] for t in tasks if t["task"] == "quality"), "")
        q = c.execute(sa.select(quarantine.c.source, quarantine.c.stage, sa.func.count().label("n"))
                      .where(quarantine.c.status == "open")
                      .group_by(quarantine.c.source, quarantine.c.stage)
                      .order_by(quarantine.c.source, quarantine.c.stage))
        quarantine_rows = [dict(r._mapping) for r in q]
        b = c.execute(sa.select(pipeline_runs.c.job, pipeline_runs.c.run_date, pipeline_runs.c.message)
                      .where(pipeline_runs.c.status == "breached")
                      .order_by(pipeline_runs.c.id.desc()).limit(last))
        breaches = [{"job": r.job, "run_date": r.run_date, "message": scrub(r.message)} for r in b]
        hb = c.execute(sa.select(handoffs.c.owner_rep, sa.func.count().label("n"))
                       .where(handoffs.c.sla_breached.is_(True))
                       .group_by(handoffs.c.owner_rep).order_by(handoffs.c.owner_rep))
        by_rep = [(r.owner_rep, r.n) for r in hb]
        recent_ids = [r.run_id for r in c.execute(
            sa.select(pipeline_runs.c.run_id, sa.func.max(pipeline_runs.c.id).label("m"))
            .group_by(pipeline_runs.c.run_id).order_by(sa.desc("m")).limit(last))]
        runs: list[dict[str, Any]] = []
        if recent_ids:
            all_rows = [dict(r._mapping) for r in c.execute(
                sa.select(pipeline_runs).where(pipeline_runs.c.run_id.in_(recent_ids))
                .order_by(pipeline_runs.c.id))]
            for rid in recent_ids:
                per: dict[str, dict[str, Any]] = {}
                for r in all_rows:
                    if r["run_id"] == rid:
                        per[r["task"]] = r
                if not per:
                    continue
                first = next(iter(per.values()))
                runs.append({"run_id": rid, "job": first["job"], "run_date": first["run_date"],
                             "status": _worst([r["status"] for r in per.values()]),
                             "tasks": len([t for t in per if t != "deadline"]),
                             "seconds": round(sum((r["counts"] or {}).get("seconds", 0) or 0
                                                  for r in per.values()), 3)})
    job = rows[0]["job"] if rows else run_id.split(":")[0]
    run_date = rows[0]["run_date"] if rows else (run_id.split(":", 1)[1] if ":" in run_id else "")
    return {"run_id": run_id, "job": job, "run_date": run_date,
            "status": _worst([t["status"] for t in tasks]),
            "seconds": round(sum(float(t["seconds"] or 0) for t in tasks), 3),
            "tasks": tasks, "quality": quality, "quarantine": quarantine_rows,
            "breaches": breaches,
            "handoff_breaches": {"total": sum(n for _, n in by_rep), "by_rep": by_rep},
            "last_runs": runs}


def file_name(run_id: str) -> str:
    """A safe file name for a run id such as ``lead_handoff_daily:2026-11-26``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) + ".html"


def write(engine: sa.Engine, run_id: str, reports_dir: Path) -> Path:
    """Render the summary of ``run_id`` to ``reports_dir/runs/<run_id>.html``; returns the path."""
    import jinja2

    data = collect(engine, run_id)
    html = jinja2.Environment(autoescape=True).from_string(_TEMPLATE).render(**data)
    return shared.put(reports_dir / "runs" / file_name(run_id), html.encode("utf-8"))
