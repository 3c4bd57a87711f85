"""The warehouse's run lock: runs wait for each other and say for whom; a killed holder frees it at
once (no stale lock, no deadlocked retry); ingest-style holders can share it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from leadflow.errors import StoreError
from leadflow.store import locks
from tests.conftest import ROOT

HOLD = """
import os, signal, sys, time
from leadflow.store import db, locks
eng = db.engine(os.environ["LEADFLOW_DATABASE_URL"])
with locks.run_lock(eng, "other:2026-11-26", "load", shared=sys.argv[1] == "shared"):
    print("held", flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
"""


def _holder(db_url: str, mode: str = "exclusive", then: str = "sleep") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_DATABASE_URL": db_url}
    p = subprocess.Popen([sys.executable, "-c", HOLD, mode, then], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held", p.stderr.read() if p.stderr else ""
    return p


def test_a_waiting_run_says_whom_it_waits_for(engine, db_url, caplog) -> None:
    p = _holder(db_url)
    try:
        assert locks.holder(engine)["run_id"] == "other:2026-11-26"
        with pytest.raises(StoreError, match=r"waiting for run other:2026-11-26 \(task load, pid"):
            with locks.run_lock(engine, "mine:2026-11-25", timeout=0.5):
                pass
        assert any("waiting for run other:2026-11-26" in r.getMessage() for r in caplog.records)
    finally:
        p.kill()
        p.wait()
    with locks.run_lock(engine, "mine:2026-11-25", timeout=10):   # the holder is gone: free
        assert locks.holder(engine)["run_id"] == "mine:2026-11-25"
    assert locks.holder(engine) is None


def test_a_killed_holder_leaves_no_stale_lock(engine, db_url) -> None:
    p = _holder(db_url, then="kill")
    assert p.wait(timeout=30) == -9
    assert locks.holder(engine) is None                 # its row is left, but the lock died with it
    t0 = time.monotonic()
    with locks.run_lock(engine, "retry:2026-11-26", timeout=5):
        pass
    assert time.monotonic() - t0 < 5


def test_shared_holders_run_together_and_exclude_the_rest(engine, db_url) -> None:
    p = _holder(db_url, mode="shared")
    try:
        with locks.run_lock(engine, "ingest:b", "ingest:b", shared=True, timeout=2):
            pass
        with pytest.raises(StoreError):
            with locks.run_lock(engine, "quality", "quality", timeout=0.5):
                pass
    finally:
        p.kill()
        p.wait()


def test_reentrant_in_a_thread_exclusive_between_threads(engine) -> None:
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with locks.run_lock(engine, "thread:2", timeout=0.5):
                pass
        except BaseException as e:  # noqa: BLE001 - asserted below
            errors.append(e)

    with locks.run_lock(engine, "thread:1"):
        with locks.run_lock(engine, "thread:1", "load"):          # nested: no wait
            t = threading.Thread(target=other)
            t.start()
            t.join()
    assert len(errors) == 1 and isinstance(errors[0], StoreError)
    assert locks.holder(engine) is None
