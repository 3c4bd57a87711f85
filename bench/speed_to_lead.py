"""Speed to lead on the real Airflow: latency from a form event to the rep's notification.

    python -m bench.speed_to_lead --events 20 --interval 6

Starts its own api-server, dag-processor, scheduler and triggerer (LocalExecutor, a temporary
AIRFLOW_HOME with SQLite metadata, free ports), a local SMTP sink standing in for the reps'
mailboxes, and a SQLite warehouse with the intraday sources of examples/speed_to_lead.yaml.
Once the triggerer listens on the (unique) Redis channel, it publishes N hand-raiser submissions
over time through ``leadflow.intraday.receiver`` and reports, per event, the seconds from the
submission to the email reaching the sink: median, p95, max; lost (no email) and duplicates
(more than one email or handoff). The machine's load average is printed beside the figures.
Needs Redis at 127.0.0.1:6379. Everything it starts is stopped by process id at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAG_ID = "speed_to_lead"
REDIS = os.environ.get("LEADFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """aiosmtpd handler: the wall time each submission's notification arrived (by its marker)."""

    def __init__(self) -> None:
        self.arrived: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        body = message_from_bytes(envelope.content).get_payload(decode=True) or b""
        for marker in set(re.findall(rb"Bench[0-9a-f]{8}", body)):   # once per message
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


def airflow_env(home: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LEADFLOW_"))}
    port = free_port()
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "PYTHONPATH": str(ROOT),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_REDIS_DEFAULT": REDIS.replace("redis://", "redis://", 1),
        "LEADFLOW_CONFIG": str(config), "LEADFLOW_REDIS_URL": REDIS,
        "LEADFLOW_DATABASE_URL": f"sqlite:///{config.parent / 'data' / 'warehouse.db'}",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    r = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                       timeout=300)
    if r.returncode:
        raise SystemExit(f"airflow db migrate failed:\n{r.stderr[-3000:]}")
    return env


@contextmanager
def services(env: dict[str, str], home: Path, names: tuple[str, ...]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the named Airflow services; stop them (their process groups) at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            log = open(home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen([str(BIN / "airflow"), name], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


def meta(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait(what: str, fn: Any, timeout: float, home: Path, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
        except sqlite3.OperationalError:
            v = None
        if v:
            return v
        time.sleep(every)
    logs = "\n".join(f"--- {n}\n" + (home / f"{n}.log").read_text(errors="replace")[-2000:]
                     for n in ("scheduler", "dag-processor", "triggerer") if (home / f"{n}.log").exists())
    raise TimeoutError(f"timed out waiting for {what}\n{logs}")


def unpause_when_parsed(env: dict[str, str], home: Path) -> None:
    wait("the DAG to be parsed", lambda: meta(home, "SELECT 1 FROM dag WHERE dag_id=?", DAG_ID), 180, home)
    for _ in range(6):
        r = subprocess.run([str(BIN / "airflow"), "dags", "unpause", DAG_ID], env=env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            return
        time.sleep(3)
    raise SystemExit(f"unpause failed: {r.stderr[-2000:]}")


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--interval", type=float, default=6.0, help="seconds between events")
    ap.add_argument("--timeout", type=float, default=240.0, help="wait after the last event")
    ap.add_argument("--sweep-cron", default="*/5 * * * *")
    a = ap.parse_args()
    from leadflow import config as cfg

    types = ["demo_request", "contact_sales", "pricing_chat"]
    with tempfile.TemporaryDirectory(prefix="speed20-bench-") as tmp, smtp_sink() as (sink, smtp_port):
        root, home = Path(tmp) / "project", Path(tmp) / "airflow_home"
        home.mkdir(parents=True)
        channel = f"leadflow:bench:{uuid.uuid4().hex[:8]}"
        config = project(root, smtp_port, channel, a.sweep_cron)
        env = airflow_env(home, config)
        os.environ["LEADFLOW_DATABASE_URL"] = env["LEADFLOW_DATABASE_URL"]
        settings = cfg.load(config)
        t_start = time.time()
        with services(env, home, ("api-server", "dag-processor", "scheduler", "triggerer")):
            unpause_when_parsed(env, home)
            wait("the triggerer to subscribe to the channel", lambda: subscribers(channel) > 0, 240, home)
            ready = time.time() - t_start
            load_before = os.getloadavg()
            sent: dict[str, float] = {}
            for i in range(a.events):
                marker = f"Bench{uuid.uuid4().hex[:8]}"
                sent[marker] = time.time()
                submit(settings, marker, types[i % len(types)])
                time.sleep(a.interval)
            deadline = time.monotonic() + a.timeout
            while time.monotonic() < deadline and len(sink.arrived) < len(sent):
                time.sleep(1)
            load_after = os.getloadavg()
            time.sleep(5)                 # let a duplicate, if any, arrive
            runs = meta(home, "SELECT run_type, state, COUNT(*) FROM dag_run WHERE dag_id=? "
                              "GROUP BY run_type, state", DAG_ID)
        lat = [sink.arrived[m][0] - t for m, t in sent.items() if m in sink.arrived]
        out = {
            "events": len(sent), "notified": len(lat), "lost": len(sent) - len(lat),
            "duplicate_emails": sum(len(v) - 1 for v in sink.arrived.values()),
            "latency_s": {"median": round(statistics.median(lat), 1) if lat else None,
                          "p95": round(pct(lat, 95), 1) if lat else None,
                          "max": round(max(lat), 1) if lat else None,
                          "min": round(min(lat), 1) if lat else None},
            "warehouse": counts(env["LEADFLOW_DATABASE_URL"]),
            "dag_runs": [list(r) for r in runs],
            "interval_s": a.interval, "services_ready_s": round(ready, 1),
            "load_avg_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in load_after]},
            "cores": os.cpu_count(),
        }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
