"""Speed to lead on the real Airflow: latency from a form event to the rep's notification.

    python -m bench.speed_to_lead --events 20 --interval 6 [--keep DIR]

Starts its own api-server, dag-processor, scheduler and triggerer (bench/_airflow.py: LocalExecutor,
a temporary AIRFLOW_HOME with SQLite metadata, free ports, the scheduler settings of
docs/operations.md), a local SMTP sink standing in for the reps' mailboxes, and a SQLite
warehouse with the intraday sources of examples/speed_to_lead.yaml. Once the triggerer listens on
the (unique) Redis channel, it publishes N hand-raiser submissions over time through
``leadflow.intraday.receiver`` and reports, per event, the seconds from the submission to the
email reaching the sink: median, p95, max; lost (no email) and duplicates (more than one email or
handoff); and where the time went, from the metadata DB: submission -> asset event (watcher) ->
run queued (scheduler; includes waiting for a run in progress) -> task queued -> task started
(executor) -> email (the task: start-up, imports, the pass). The machine's load average is
printed beside the figures. Needs Redis at 127.0.0.1:6379. Everything it starts is stopped by
process id at the end; ``--keep`` keeps the Airflow home (logs) and a per-event JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import yaml

from bench._airflow import ROOT, airflow_env, free_port, meta, migrate, services, unpause_when_parsed, wait

DAG_ID = "speed_to_lead"
REDIS = os.environ.get("LEADFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVICES = ("api-server", "dag-processor", "scheduler", "triggerer")


class Sink:
    """aiosmtpd handler: the wall time each submission's notification arrived (by its marker)."""

    def __init__(self) -> None:
        self.arrived: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        body = message_from_bytes(envelope.content).get_payload(decode=True) or b""
        # the email address carries the marker intact (names lose digits when cleaned): once per message
        for marker in {m.lower() for m in re.findall(rb"bench[0-9a-f]{8}", body, re.IGNORECASE)}:
            with self.lock:
                self.arrived.setdefault(marker.decode(), []).append(now)
        return "250 OK"


@contextmanager
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink, port = Sink(), free_port()
    ctrl = Controller(sink, hostname="127.0.0.1", port=port)
    ctrl.start()
    try:
        yield sink, port
    finally:
        ctrl.stop()


def project(root: Path, smtp_port: int, channel: str, sweep_cron: str) -> Path:
    """leadflow.yaml (reps, scoring) + the intraday sources of examples/speed_to_lead.yaml, every
    hour a working hour, email to the sink; an initialised SQLite warehouse. Returns the config."""
    from leadflow.store import db

    doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text(encoding="utf-8"))
    ex = yaml.safe_load((ROOT / "examples" / "speed_to_lead.yaml").read_text(encoding="utf-8"))
    doc["paths"] = {"data_dir": str(root / "data"), "reports_dir": str(root / "reports"),
                    "lists_dir": str(root / "reports" / "lead_lists")}
    doc["sources"] = ex["sources"]
    for s in doc["sources"]:
        s["connector"]["path"] = str(root / s["connector"]["path"])
    doc["model"]["artifacts_dir"] = str(root / "models")
    doc["qualification"].update(ex["qualification"])
    doc["crm"] = {"destinations": []}
    doc["delivery"] = {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "leadflow@bench.test"}}
    doc["speed_to_lead"] = dict(ex["speed_to_lead"], event_channel=channel, sweep_cron=sweep_cron,
                                working_hours={"start_hour": 0, "end_hour": 24,
                                               "weekdays": [0, 1, 2, 3, 4, 5, 6]})
    (root / "data").mkdir(parents=True, exist_ok=True)
    cfg = root / "leadflow.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    db.init(db.engine(f"sqlite:///{root / 'data' / 'warehouse.db'}"))
    return cfg


def subscribers(channel: str) -> int:
    import redis
    client = redis.Redis.from_url(REDIS)
    try:
        return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
    finally:
        client.close()


def submit(settings: Any, marker: str, touch_type: str, publish: bool = True) -> dict[str, Any]:
    """A hand-raiser's submission: landed, then (unless ``publish`` is False) its event."""
    from leadflow.intraday import receiver

    form = {"email": f"{marker.lower()}@prospect{marker[-4:]}.example", "first_name": marker,
            "last_name": "Prospect", "company": f"Co {marker}", "job_title": "VP Marketing",
            "company_size": 400, "country": "DE"}
    event = receiver.land(settings, form, touch_type)
    event["published"] = receiver.publish(settings, event) if publish else False
    return event


def counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa
    eng = sa.create_engine(url)
    with eng.connect() as c:
        h = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT person_id) FROM handoffs")).one()
        n = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT handoff_id) FROM handoff_notifications "
                              "WHERE status = 'sent'")).one()
    eng.dispose()
    return {"handoffs": h[0], "people_handed_off": h[1], "notifications_sent": n[0],
            "handoffs_notified": n[1]}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def env_for(home: Path, config: Path) -> dict[str, str]:
    """The Airflow environment of a speed-to-lead project: its config, warehouse and Redis."""
    return migrate(airflow_env(
        home, AIRFLOW__LOGGING__LOGGING_LEVEL="INFO", AIRFLOW_CONN_REDIS_DEFAULT=REDIS,
        LEADFLOW_CONFIG=str(config), LEADFLOW_REDIS_URL=REDIS,
        LEADFLOW_DATABASE_URL=f"sqlite:///{config.parent / 'data' / 'warehouse.db'}"))


def _ts(v: Any) -> float | None:
    """A metadata timestamp (naive = UTC) as epoch seconds."""
    if not v:
        return None
    d = datetime.fromisoformat(str(v))
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def _asset_events(home: Path) -> dict[str, float]:
    """submission id -> when the watcher's asset event was written."""
    ev: dict[str, float] = {}
    for extra, stamp in meta(home, "SELECT extra, timestamp FROM asset_event"):
        data = ((json.loads(extra or "{}").get("payload") or {}).get("data")) or "{}"
        try:
            sid = json.loads(data).get("submission_id")
        except (ValueError, AttributeError):
            continue
        if sid and (t := _ts(stamp)) is not None:
            ev.setdefault(sid, t)
    return ev


def _passes(url: str) -> dict[str, tuple[str, float | None, float | None]]:
    """lower-case marker -> (the pass that sent its notification, its start, its end), from the
    warehouse: the notification's claiming run id is the pass's ``pipeline_runs`` run id."""
    import sqlalchemy as sa
    eng = sa.create_engine(url)
    with eng.connect() as c:
        got = c.execute(sa.text(
            "SELECT p.email_norm, r.run_id, r.started_at, r.finished_at FROM people p "
            "JOIN handoffs h ON h.person_id = p.person_id "
            "JOIN handoff_notifications n ON n.handoff_id = h.handoff_id AND n.status = 'sent' "
            "JOIN pipeline_runs r ON r.run_id = n.run_id AND r.task = 'intraday'")).all()
    eng.dispose()
    return {str(e).split("@")[0]: (rid, _ts(a), _ts(b)) for e, rid, a, b in got}


def _tasks(home: Path) -> dict[str, dict[str, Any]]:
    """pass run id -> its Airflow run and task times (the task's XCom ``run_id`` names its pass)."""
    out: dict[str, dict[str, Any]] = {}
    for rt, after, q, ts, te, val in meta(
            home, "SELECT r.run_type, r.run_after, r.queued_at, t.start_date, t.end_date, x.value "
                  "FROM dag_run r JOIN task_instance t ON t.dag_id = r.dag_id AND t.run_id = r.run_id "
                  "JOIN xcom x ON x.dag_id = t.dag_id AND x.run_id = t.run_id AND x.task_id = t.task_id "
                  "AND x.key = 'run_id' WHERE r.dag_id=?", DAG_ID):
        rid = json.loads(val) if isinstance(val, (str, bytes)) else val
        if isinstance(rid, str):
            out[rid] = {"run_type": rt, "after": _ts(after), "queued": _ts(q), "start": _ts(ts), "end": _ts(te)}
    return out


def phases(home: Path, url: str, sent: dict[str, float], sids: dict[str, str],
           arrived: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Per event, seconds after the submission: the watcher's asset event; the pass that sent
    the notification (``pass_start``: it holds the run lock) and its Airflow task (``task_start``)
    and run (``run_queued``), negative when that run was already under way; the email."""
    ev, passes, tasks = _asset_events(home), _passes(url), _tasks(home)
    out = []
    for m, t0 in sent.items():
        row: dict[str, Any] = {"marker": m, "asset_event": _d(ev.get(sids[m]), t0)}
        pid, p0, p1 = passes.get(m.lower(), (None, None, None))
        ti = tasks.get(pid or "")
        if ti:
            row.update(run_type=ti["run_type"], run_queued=_d(ti["queued"], t0), task_start=_d(ti["start"], t0))
        row.update(pass_run_id=pid, pass_start=_d(p0, t0), pass_end=_d(p1, t0),
                   notified=_d((arrived.get(m.lower()) or [None])[0], t0))
        out.append(row)
    return out


def pass_costs(home: Path, url: str) -> dict[str, Any]:
    """Per asset-triggered run: ``scheduler`` (its latest asset event -> run queued, including any
    wait for max_active_runs), ``executor`` (-> task start), ``startup_and_lock`` (task start ->
    pass start: DAG parse, imports, then any wait for the pass in progress), ``pass``."""
    import sqlalchemy as sa
    eng = sa.create_engine(url)
    with eng.connect() as c:
        pr = {rid: (_ts(a), _ts(b)) for rid, a, b in c.execute(sa.text(
            "SELECT run_id, started_at, finished_at FROM pipeline_runs WHERE task = 'intraday'")).all()}
    eng.dispose()
    rows = []
    for rid, t in _tasks(home).items():
        if t["run_type"] != "asset_triggered" or rid not in pr:
            continue
        p0, p1 = pr[rid]
        rows.append({"scheduler": _d(t["queued"], t["after"]), "executor": _d(t["start"], t["queued"]),
                     "startup_and_lock": _d(p0, t["start"]), "pass": _d(p1, p0)})
    return {k: summary(rows, k) for k in ("scheduler", "executor", "startup_and_lock", "pass")}


def _d(b: float | None, a: float | None) -> float | None:
    return round(b - a, 1) if a is not None and b is not None else None


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    xs = [r[key] for r in rows if r.get(key) is not None]
    return {"median": round(statistics.median(xs), 1), "p95": round(pct(xs, 95), 1),
            "max": round(max(xs), 1), "n": len(xs)} if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--interval", type=float, default=6.0, help="seconds between events")
    ap.add_argument("--timeout", type=float, default=240.0, help="wait after the last event")
    ap.add_argument("--sweep-cron", default="*/5 * * * *")
    ap.add_argument("--keep", type=Path, help="keep the Airflow home and project here (logs)")
    a = ap.parse_args()
    from leadflow import config as cfg

    types = ["demo_request", "contact_sales", "pricing_chat"]
    with tempfile.TemporaryDirectory(prefix="speed20-bench-") as tmp, smtp_sink() as (sink, smtp_port):
        base = a.keep or Path(tmp)
        root, home = base / "project", base / "airflow_home"
        home.mkdir(parents=True)
        channel = f"leadflow:bench:{uuid.uuid4().hex[:8]}"
        config = project(root, smtp_port, channel, a.sweep_cron)
        env = env_for(home, config)
        os.environ["LEADFLOW_DATABASE_URL"] = env["LEADFLOW_DATABASE_URL"]
        settings = cfg.load(config)
        t_start = time.time()
        with services(env, home, SERVICES):
            unpause_when_parsed(env, home, DAG_ID)
            wait("the triggerer to subscribe to the channel", lambda: subscribers(channel) > 0, 240, home)
            ready = time.time() - t_start
            load_before = os.getloadavg()
            sent: dict[str, float] = {}
            sids: dict[str, str] = {}
            for i in range(a.events):
                marker = f"Bench{uuid.uuid4().hex[:8]}"
                sent[marker] = time.time()
                sids[marker] = submit(settings, marker, types[i % len(types)])["submission_id"]
                time.sleep(a.interval)
            deadline = time.monotonic() + a.timeout
            while time.monotonic() < deadline and len(sink.arrived) < len(sent):
                time.sleep(1)
            load_after = os.getloadavg()
            time.sleep(5)                 # let a duplicate, if any, arrive
            runs = meta(home, "SELECT run_type, state, COUNT(*) FROM dag_run WHERE dag_id=? "
                              "GROUP BY run_type, state", DAG_ID)
        url = env["LEADFLOW_DATABASE_URL"]
        per = phases(home, url, sent, sids, sink.arrived)
        lat = [sink.arrived[m.lower()][0] - t for m, t in sent.items() if m.lower() in sink.arrived]
        out = {
            "events": len(sent), "notified": len(lat), "lost": len(sent) - len(lat),
            "duplicate_emails": sum(len(v) - 1 for v in sink.arrived.values()),
            "unknown_emails": len(set(sink.arrived) - {m.lower() for m in sent}),
            "latency_s": {"median": round(statistics.median(lat), 1) if lat else None,
                          "p95": round(pct(lat, 95), 1) if lat else None,
                          "max": round(max(lat), 1) if lat else None,
                          "min": round(min(lat), 1) if lat else None},
            "after_event_s": {k: summary(per, k) for k in ("asset_event", "run_queued", "task_start",
                                                           "pass_start", "pass_end", "notified")},
            "per_run_s": pass_costs(home, url),
            "handled_by": {t: sum(r.get("run_type") == t for r in per)
                           for t in ("asset_triggered", "scheduled")},
            "warehouse": counts(url),
            "dag_runs": [list(r) for r in runs],
            "interval_s": a.interval, "services_ready_s": round(ready, 1),
            "load_avg_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in load_after]},
            "cores": os.cpu_count(),
        }
        if a.keep:
            (base / "per_event.json").write_text(json.dumps(per, indent=1))
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
