"""Order and concurrency: a run for day D touches only rows of days <= D; runs serialise.

Re-running yesterday after today's files landed must not judge today's rows against yesterday's
clock (they would fail "not future" and sit in quarantine); two dates at once, in two processes,
must leave the accounting exact and nothing stuck.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadflow import config as cfg
from leadflow import pipeline
from leadflow.context import RunContext, make_run_id
from leadflow.store import db, locks
from leadflow.store.schema import STAGING, ingest_batches, quarantine
from tests.conftest import ROOT, demo_config
from tests.test_pipeline import _accounting

D = date(2026, 11, 26)
D1 = D - timedelta(days=1)
DAILY = "ingest,quality,load,score,queue,deliver"


def _ctx(settings: cfg.Settings, url: str, d: date) -> RunContext:
    return RunContext(settings, db.engine(url), d, make_run_id("test", d), "test")


def _not_future(eng: sa.Engine) -> int:
    q = db.read_df(eng, sa.select(quarantine.c.reasons))
    return int(sum(any(str(r).endswith("_not_future") for r in rs) for rs in q.reasons))


def _stuck(eng: sa.Engine) -> dict[str, int]:
    out = {}
    with eng.connect() as c:
        for kind, t in STAGING.items():
            n = c.execute(sa.select(sa.func.count()).select_from(t)
                          .where(t.c.state.in_(["landed", "passed"]))).scalar()
            if n:
                out[kind] = int(n)
    return out


@pytest.fixture
def two_days(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[cfg.Settings, str, Path]:
    from leadflow import demo
    monkeypatch.setenv("LEADFLOW_DATA_DOCS", "0")          # GX's report is not under test here
    p = demo_config(tmp_path, db_url, monkeypatch)
    demo.generate(tmp_path / "data", leads=240, seed=5, days=2, end_date=D)
    return cfg.load(p), db_url, p


def test_rerun_of_previous_day_after_next_days_files_landed_quarantines_nothing_new(two_days) -> None:
    settings, url, _ = two_days
    eng = db.engine(url)
    pipeline.run_daily(_ctx(settings, url, D1))
    q_before = db.read_df(eng, sa.select(quarantine.c.kind, quarantine.c.batch_id, quarantine.c.row_number)
                          .order_by(quarantine.c.quarantine_id))
    pipeline.run_steps(_ctx(settings, url, D), [("ingest", pipeline.step_ingest)])   # D's files land
    pipeline.run_daily(_ctx(settings, url, D1))                                       # re-run D-1
    q_after = db.read_df(eng, sa.select(quarantine.c.kind, quarantine.c.batch_id, quarantine.c.row_number)
                         .order_by(quarantine.c.quarantine_id))
    assert len(q_after) == len(q_before), "re-running D-1 quarantined rows of day D"
    assert _not_future(eng) == 0
    later = sa.select(ingest_batches.c.batch_id).where(ingest_batches.c.business_date == D)
    with eng.connect() as c:
        t = STAGING["inbound_leads"]
        waiting = c.execute(sa.select(sa.func.count()).select_from(t)
                            .where(t.c.batch_id.in_(later), t.c.state == "landed")).scalar()
    assert waiting > 0, "day D's rows should wait, landed, for D's run"
    pipeline.run_daily(_ctx(settings, url, D))
    _accounting(eng)
    assert _not_future(eng) == 0


def test_quality_for_a_day_leaves_later_batches_landed(two_days) -> None:
    from leadflow.quality import validate_all
    settings, url, _ = two_days
    eng = db.engine(url)
    pipeline.run_steps(_ctx(settings, url, D), [("ingest", pipeline.step_ingest)])
    # pretend the D-1 delivery arrives late: quality for D-1 sees D's landed rows and must skip them
    counts = validate_all(_ctx(settings, url, D1), docs=False)
    assert counts["rows"] == 0 and counts["waiting"] > 0
    assert _stuck(eng) and not db.read_df(eng, sa.select(quarantine.c.quarantine_id)).shape[0]


def _run_cli(cfg_path: Path, d: date, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "leadflow", "run", "-c", str(cfg_path), "--date",
                             d.isoformat(), "--steps", DAILY], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _drain(p: subprocess.Popen, out: list[str]) -> None:
    """Collect a process's stderr as it comes (it is read while the process runs)."""
    assert p.stderr is not None
    out.extend(iter(p.stderr.readline, ""))


@pytest.mark.slow
def test_two_dates_at_once_in_two_processes_leave_accounting_exact(two_days) -> None:
    settings, url, cfg_path = two_days
    eng = db.engine(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_DATABASE_URL": url, "LEADFLOW_DATA_DOCS": "0",
           "LEADFLOW_LOG_LEVEL": "WARNING"}
    # the test holds the run lock until a run says whom it waits for, so the two runs surely
    # meet the lock (not only when their start-ups happen to overlap), then lets them race
    outs: list[list[str]] = [[], []]
    with locks.run_lock(eng, "holder:both-dates", "hold"):
        procs = [_run_cli(cfg_path, D, env), _run_cli(cfg_path, D1, env)]
        readers = [threading.Thread(target=_drain, args=(p, out), daemon=True) for p, out in zip(procs, outs)]
        for r in readers:
            r.start()
        deadline = time.monotonic() + 180
        while (not any("waiting for run" in "".join(out) for out in outs)
               and time.monotonic() < deadline and all(p.poll() is None for p in procs)):
            time.sleep(0.2)
    for p, r in zip(procs, readers):
        p.wait(timeout=300)
        r.join(timeout=30)
    for p, out in zip(procs, outs):
        assert p.returncode == 0, "".join(out)[-2000:]
    assert any("waiting for run" in "".join(out) for out in outs), "a run should say whom it waits for"
    # whichever order they ran in, a last run of D finishes what waited
    pipeline.run_daily(_ctx(settings, url, D))
    _accounting(eng)
    assert not _stuck(eng)
    assert _not_future(eng) == 0
