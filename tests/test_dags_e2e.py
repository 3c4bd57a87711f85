"""End to end through Airflow 3 (slow tier): ``dag.test()`` of lead_handoff_daily on a temporary
SQLite warehouse and AIRFLOW_HOME, a failing run whose alert email reaches a local SMTP server
without PII, and the real scheduler (scheduler + dag-processor + api-server) running a backfill of
three days and a CLI-triggered re-run, compared with three single runs.

Airflow runs in subprocesses with their own AIRFLOW_HOME so this session's settings never leak.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from bench import _airflow as _af
from bench._airflow import free_port, meta
from tests.test_orchestration import SmtpSink

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
DAG_ID = "lead_handoff_daily"
LEADS, SEED = 400, 11


# --------------------------------------------------------------------------- Airflow homes
def airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LEADFLOW_"))}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "PYTHONPATH": str(ROOT),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


def migrate(home: Path) -> dict[str, str]:
    env = airflow_env(home)
    r = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    return env


@pytest.fixture(scope="session")
def dagtest_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An AIRFLOW_HOME with a migrated SQLite metadata DB, for dag.test() runs."""
    return migrate(tmp_path_factory.mktemp("airflow_home"))


# --------------------------------------------------------------------------- projects
def make_project(root: Path, end_date: date, alerts: dict[str, Any] | None = None,
                 fail_share: float | None = None) -> tuple[Path, str]:
    """Demo data (3 days ending ``end_date``), a copy of leadflow.yaml pointing into ``root`` and
    an initialised SQLite warehouse. Returns (config path, warehouse URL)."""
    from leadflow import demo
    from leadflow.store import db

    root.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text(encoding="utf-8"))
    doc["paths"] = {"data_dir": str(root / "data"), "reports_dir": str(root / "reports"),
                    "lists_dir": str(root / "reports" / "lead_lists")}
    for s in doc.get("sources", []):
        con = s["connector"]
        if con.get("type") == "file":
            con["path"] = str(root / "data" / Path(con["path"]).relative_to("data"))
            con["min_age_seconds"] = 0
        if fail_share is not None:
            s.setdefault("quality", {})["fail_share"] = fail_share
            s["quality"]["warn_share"] = min(fail_share, s["quality"].get("warn_share", 0.05))
    if "model" in doc:
        doc["model"]["artifacts_dir"] = str(root / "models")
    if alerts is not None:
        doc["alerts"] = alerts["alerts"]
        doc.setdefault("delivery", {})["smtp"] = alerts["smtp"]
    cfg_path = root / "leadflow.yaml"
    cfg_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    demo.generate(root / "data", leads=LEADS, seed=SEED, days=3, end_date=end_date)
    url = f"sqlite:///{root / 'data' / 'warehouse.db'}"
    db.init(db.engine(url))
    return cfg_path, url


def start_dagtest(env: dict[str, str], config: Path, url: str,
                  dates: list[date]) -> subprocess.Popen[str]:
    e = dict(env, LEADFLOW_CONFIG=str(config), LEADFLOW_DATABASE_URL=url)
    return subprocess.Popen([sys.executable, "-m", "leadflow.orchestration.dagtest", DAG_ID,
                             *[d.isoformat() for d in dates]], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=config.parent)


def finish_dagtest(proc: subprocess.Popen[str], n: int, timeout: float = 600) -> list[dict[str, Any]]:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    runs = [json.loads(ln[8:]) for ln in stdout.splitlines() if ln.startswith("DAGTEST ")]
    assert len(runs) == n, f"dag.test did not report:\n{stdout[-3000:]}\n{stderr[-5000:]}"
    return runs


def run_dagtest(env: dict[str, str], config: Path, url: str, dates: list[date]) -> list[dict[str, Any]]:
    return finish_dagtest(start_dagtest(env, config, url, dates), len(dates))


def snapshot(url: str, run_date: date) -> dict[str, pd.DataFrame]:
    """The sales queue, scores, lifecycle, suppressions, people and the marts, without surrogate
    keys, sorted, for comparing two warehouses."""
    from leadflow.report import marts
    from leadflow.store import db
    from leadflow.store.schema import handoffs, lifecycle_events, people, scores, suppressions

    eng = db.engine(url)
    out: dict[str, pd.DataFrame] = {}
    for t in (handoffs, scores, lifecycle_events, suppressions, people):
        keep = [c for c in t.c if not (c.primary_key and t is not people)]
        df = db.read_df(eng, sa.select(*keep)).astype(str)
        out[t.name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    for name, df in marts.run(eng, marts.window_for(eng, run_date)).items():
        out[f"mart:{name}"] = df.reset_index(drop=True).astype(str)
    return out


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], obj=k)


# --------------------------------------------------------------------------- dag.test
def auto_run_day(now: datetime | None = None) -> date:
    """The day of the run the scheduler creates by itself when the DAG is unpaused (catchup off):
    the latest complete interval of the 05:00 UTC cron."""
    now = now or datetime.now(UTC)
    today5 = now.replace(hour=5, minute=0, second=0, microsecond=0)
    latest_end = today5 if now >= today5 else today5 - timedelta(days=1)
    return (latest_end - timedelta(days=1)).date()


class SingleRuns:
    """Three consecutive single runs by dag.test() on one warehouse (demo data of the 3 days
    before), started in the background so they overlap the scheduler test. The days end on the
    day the scheduler test's backfill ends, so both can be compared."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        d3 = auto_run_day()
        self.days = [d3 - timedelta(days=2), d3 - timedelta(days=1), d3]
        self.config, self.url = make_project(root, end_date=self.days[0] - timedelta(days=1))
        self.t0 = time.perf_counter()
        self.proc = start_dagtest(env, self.config, self.url, self.days)
        self._runs: list[dict[str, Any]] | None = None

    @property
    def runs(self) -> list[dict[str, Any]]:
        if self._runs is None:
            self._runs = finish_dagtest(self.proc, len(self.days))
            self.seconds = time.perf_counter() - self.t0
        return self._runs


@pytest.fixture(scope="session")
def single_runs(dagtest_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleRuns]:
    s = SingleRuns(dagtest_env, tmp_path_factory.mktemp("single"))
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


# --------------------------------------------------------------------------- real scheduler
@contextmanager
def airflow_services(env: dict[str, str], home: Path) -> Iterator[dict[str, str]]:
    """scheduler + dag-processor + api-server on a free port (bench/_airflow.py's services, with
    its fast scheduler settings); stopped by their own process ids."""
    port = free_port()
    env = dict(env, **_af.FAST, **{
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__API__WORKERS": "1",
    })
    with _af.services(env, home, ("api-server", "dag-processor", "scheduler"), health_timeout=120):
        yield env


def wait_for(what: str, fn: Any, timeout: float, home: Path) -> Any:
    try:
        return _af.wait(what, fn, timeout, home, every=2, logs=("scheduler", "dag-processor"))
    except TimeoutError as e:
        pytest.fail(str(e))


def airflow_cli(env: dict[str, str], *args: str) -> str:
    """Run an airflow CLI command; retried while the busy SQLite metadata DB is locked."""
    try:
        return _af.airflow_cli(env, *args)
    except RuntimeError as e:
        pytest.fail(str(e))


def test_scheduler_backfill_and_trigger_match_single_runs(single_runs: SingleRuns,
                                                          tmp_path: Path) -> None:
    home = tmp_path / "airflow_home"
    home.mkdir()
    env = migrate(home)
    sched_cfg = tmp_path / "sched" / "leadflow.yaml"
    env["LEADFLOW_CONFIG"] = str(sched_cfg)
    (tmp_path / "sched").mkdir()
    sched_cfg.write_text((ROOT / "leadflow.yaml").read_text())   # registry for parsing; replaced below
    t0 = time.perf_counter()
    with airflow_services(env, home) as env:
        # the run the scheduler will create by itself once unpaused (latest complete interval):
        # we make it the last day of our backfill, so the scheduler adds nothing of its own.
        nxt = wait_for("the DAG to be parsed", lambda: meta(
            home, "SELECT next_dagrun FROM dag WHERE dag_id=? AND next_dagrun IS NOT NULL", DAG_ID),
            120, home)[0][0]
        d3 = datetime.fromisoformat(str(nxt)).date()
        days = single_runs.days
        assert d3 == days[-1], f"scheduler's next run {nxt} (did the test straddle 05:00 UTC?)"
        config, url = make_project(tmp_path / "sched", end_date=days[0] - timedelta(days=1))
        env["LEADFLOW_DATABASE_URL"] = url
        assert config == sched_cfg

        airflow_cli(env, "backfill", "create", "--dag-id", DAG_ID,
                    "--from-date", f"{days[0]}T05:00:00+00:00", "--to-date", f"{days[-1]}T05:00:00+00:00",
                    "--max-active-runs", "1")
        airflow_cli(env, "dags", "unpause", DAG_ID)
        states = wait_for("the backfill to finish", lambda: (lambda rows: rows if len(rows) == 3 and all(
            s in ("success", "failed") for _, s in rows) else None)(meta(
                home, "SELECT logical_date, state FROM dag_run WHERE dag_id=? AND run_type='backfill'",
                DAG_ID)), 300, home)
        assert all(s == "success" for _, s in states), states
        t_backfill = time.perf_counter() - t0

        # an operator re-runs the last day from the CLI: it succeeds and changes nothing
        out = airflow_cli(env, "dags", "trigger", DAG_ID, "--conf", json.dumps({"run_date": str(d3)}),
                          "--output", "json")
        run_id = json.loads(next(ln for ln in out.splitlines() if ln.startswith("[{")))[0]["dag_run_id"]
        state = wait_for("the triggered run", lambda: (lambda r: r[0][0] if r and r[0][0] in (
            "success", "failed") else None)(meta(home, "SELECT state FROM dag_run WHERE run_id=?", run_id)),
            180, home)
        assert state == "success"
        extra = meta(home, "SELECT run_id FROM dag_run WHERE dag_id=? AND run_type='scheduled'", DAG_ID)
        assert extra == [], f"scheduler created runs of its own: {extra}"
    t_sched = time.perf_counter() - t0
    scheduled = snapshot(url, d3)

    # the same three days as three single dag.test() runs in a fresh warehouse
    runs = single_runs.runs
    assert [r["state"] for r in runs] == ["success"] * 3, runs
    single = snapshot(single_runs.url, d3)
    print(f"scheduler: backfill of 3 days {t_backfill:.0f} s, with CLI trigger {t_sched:.0f} s; "
          f"dag.test x3 {single_runs.seconds:.0f} s (in parallel)")
    assert len(single["handoffs"]) > 0
    assert_same(scheduled, single)


# --------------------------------------------------------------------------- dag.test results
def test_dag_test_daily_end_to_end(single_runs: SingleRuns) -> None:
    runs, days, url = single_runs.runs, single_runs.days, single_runs.url
    print(f"dag.test lead_handoff_daily x3: {single_runs.seconds:.1f} s "
          f"(runs {[r['seconds'] for r in runs]} s)")
    for run in runs:
        assert run["state"] == "success", run
        # no source over its threshold and no CRM destination: those tasks map over nothing (skipped)
        assert all(s == "success" or (k.startswith(("quality_gate", "push_crm")) and s == "skipped")
                   for k, s in run["tasks"].items()), run["tasks"]
        assert sum(k.startswith("ingest[") for k in run["tasks"]) == 3      # one per source
        # the UI's duration is the real one, not "since the logical date" (days for a past day)
        assert 0 < run["airflow_seconds"] <= run["seconds"] + 5, run

    from leadflow.monitor import last_runs
    from leadflow.store import db
    rows = [r for r in last_runs(db.engine(url), 200) if r["run_id"] == f"{DAG_ID}:{days[0]}"]
    tasks = {r["task"]: r for r in rows}
    assert {"quality", "load", "queue"} <= set(tasks)
    # score and deliver mapped over their partitions (partitions.score / .deliver, default 1:
    # one whole step each, recorded plainly; split runs: tests/test_orchestration_workers.py)
    assert {"score", "deliver"} <= set(tasks) and not any(":" in t for t in tasks if t.startswith(("score", "deliver")))
    assert {"ingest:web_leads", "ingest:events", "ingest:spend"} <= set(tasks)
    assert all(r["status"] in ("success", "warning") for r in rows)
    # run records: the logical day for the data, the wall clock for people (a backfill shows)
    now = datetime.now(UTC).replace(tzinfo=None)
    for r in rows:
        assert r["run_date"] == days[0]
        assert now - timedelta(hours=6) < r["started_at"] <= r["finished_at"] <= now
    assert tasks["queue"]["counts"]["handed_off"] > 0
    assert tasks["ingest:web_leads"]["counts"]["rows_in"] == LEADS
    for d in days:
        summary = single_runs.config.parent / "reports" / "runs" / f"{DAG_ID}_{d}.html"
        assert summary.is_file() and "handed_off=" in summary.read_text()


def _pii_values(landing: Path) -> set[str]:
    """Every email address and phone number in the demo lead files."""
    vals: set[str] = set()
    for f in landing.rglob("leads_*.csv"):
        df = pd.read_csv(f, dtype=str)
        for col in ("Email Address", "Phone"):
            vals |= {v.strip() for v in df.get(col, pd.Series(dtype=str)).dropna() if len(v.strip()) > 5}
    return vals


def test_quality_failure_emails_without_pii(dagtest_env: dict[str, str], tmp_path: Path) -> None:
    """Runs a day with a strict quality gate (the demo's invalid emails alone exceed it): the
    source is held back, its quality_gate[source] task fails with the one-line
    message (no retry), the handoff tasks still run and the DAG run ends successful (success
    with warnings); the alert email has no PII."""
    from aiosmtpd.controller import Controller

    sink, port = SmtpSink(), free_port()
    ctrl = Controller(sink, hostname="127.0.0.1", port=port)
    ctrl.start()
    try:
        d = date(2026, 6, 15)
        alerts = {"alerts": {"email_to": ["oncall@localhost"]},
                  "smtp": {"host": "127.0.0.1", "port": port, "sender": "leadflow@localhost"}}
        # ~1-2% of demo lead rows have a broken email; a 0.1% gate must trip on them
        config, url = make_project(tmp_path / "proj", end_date=d, alerts=alerts, fail_share=0.001)
        pii = _pii_values(tmp_path / "proj" / "data" / "landing")
        [run] = run_dagtest(dagtest_env, config, url, [d])
        assert run["state"] == "success", run                # success with warnings
        assert run["tasks"]["quality"] == "success" and run["tasks"]["load"] == "success"
        delivers = {k: v for k, v in run["tasks"].items() if k.startswith("deliver[")}  # mapped partitions
        assert delivers and set(delivers.values()) == {"success"} and run["tasks"]["summary"] == "success", run
        gates = {k: v for k, v in run["tasks"].items() if k.startswith("quality_gate[")}
        assert gates and set(gates.values()) == {"failed"}, run["tasks"]   # one per held source
        assert sink.received.wait(20), "no failure email arrived"
    finally:
        ctrl.stop()
    msg = sink.messages[0]
    text = msg["Subject"] + "\n" + msg.get_payload(decode=True).decode()
    assert f"FAILED {DAG_ID}.quality_gate run {d}" in text
    assert "QualityGateError" in text and "quality gate: source '" in text
    assert "leadflow quarantine list --source " in text
    assert len(pii) > 100
    leaked = [v for v in pii if v in text]
    assert not leaked, f"PII in alert: {len(leaked)} values"
    assert not re.search(r"Traceback|File \"", text)
