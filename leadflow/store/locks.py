"""One run at a time per warehouse: a lock that dies with its holder.

Why: steps read "whatever is waiting" (landed rows, passed rows, queued handoffs), so two runs
interleaving their steps hand each other's rows around and make results depend on timing.
Runs therefore serialise; the one that waits says whom it waits for.

How: on PostgreSQL a session advisory lock keyed by the schema; on SQLite an ``flock`` on a file
beside the database. Both are freed by the operating system or the server when the holding
process dies, so a killed run never leaves a stale lock and a retry never deadlocks. The
``run_locks`` row only *names* the holder; a row left by a dead process is simply overwritten.
Re-entrant per thread (a whole ``leadflow run`` holds it, and each of its steps takes it again).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadflow.errors import StoreError
from leadflow.store import db
from leadflow.store.schema import run_locks

log = logging.getLogger("leadflow.store.locks")

NAME = "pipeline"
#: First key of the PostgreSQL advisory lock; the second is the hash of the current schema.
PG_KEY = 0x1EAD
#: How long a run waits for another before giving up (seconds); ``LEADFLOW_LOCK_TIMEOUT``.
DEFAULT_TIMEOUT = 3600.0

_local = threading.local()


def utcnow() -> datetime:
    """Wall-clock time (naive UTC), for run records only, never for data."""
    return datetime.now(UTC).replace(tzinfo=None)


def _key(eng: Engine) -> str:
    return eng.url.render_as_string(hide_password=False)


def _held() -> dict[str, list[Any]]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def _try(eng: Engine, shared: bool = False) -> Callable[[], None] | None:
    """Take the lock without waiting; returns its release function, or None when it is taken."""
    if db.is_postgres(eng):
        sh = "_shared" if shared else ""
        conn = eng.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            ok = conn.execute(sa.text(
                f"SELECT pg_try_advisory_lock{sh}({PG_KEY}, hashtext(current_schema()))")).scalar()
        except Exception:
            conn.close()
            raise
        if not ok:
            conn.close()
            return None

        def release_pg() -> None:
            try:
                conn.execute(sa.text(f"SELECT pg_advisory_unlock{sh}({PG_KEY}, hashtext(current_schema()))"))
            except Exception:  # noqa: BLE001 - a dead session has released it already
                conn.invalidate()
            finally:
                conn.close()
        return release_pg
    path = eng.url.database
    if not path or path == ":memory:":
        return lambda: None                      # one process only: nothing to share
    import fcntl
    f = open(f"{path}.runlock", "a+")            # noqa: SIM115 - held open for the lock's life
    try:
        fcntl.flock(f, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None

    def release_file() -> None:
        try:
            fcntl.flock(f, fcntl.LOCK_UN)
        finally:
            f.close()
    return release_file


def _row(eng: Engine) -> dict[str, Any] | None:
    with eng.connect() as c:
        r = c.execute(sa.select(run_locks).where(run_locks.c.name == NAME)).first()
    return dict(r._mapping) if r else None


def describe(who: dict[str, Any] | None) -> str:
    """``run X (task T, pid P on H, since ...)``: no PII, just process facts."""
    if not who:
        return "another run"
    task = f"task {who['task']}, " if who.get("task") else ""
    return (f"run {who['run_id']} ({task}pid {who['pid']} on {who['host']}, since "
            f"{who['acquired_at']:%Y-%m-%d %H:%M:%S} UTC)")


def holder(eng: Engine) -> dict[str, Any] | None:
    """The live run holding the lock, or None. A row left behind by a killed run does not count:
    liveness comes from the lock itself."""
    mine = _held().get(_key(eng))
    if mine:
        return mine[2]
    release = _try(eng)
    if release is not None:
        release()
        return None
    return _row(eng) or {"run_id": "?", "task": None, "pid": 0, "host": "?", "acquired_at": utcnow()}


def _name_task(eng: Engine, me: dict[str, Any], task: str) -> None:
    """Keep the holder row's task current (what a waiting run reports)."""
    me["task"] = task
    try:
        with eng.begin() as c:
            c.execute(sa.update(run_locks).where(run_locks.c.name == NAME, run_locks.c.pid == me["pid"],
                                                 run_locks.c.host == me["host"]).values(task=task))
    except Exception as e:  # noqa: BLE001 - naming only
        log.debug("run lock task not updated: %s", type(e).__name__)


@contextmanager
def run_lock(eng: Engine, run_id: str, task: str | None = None, shared: bool = False,
             timeout: float | None = None, poll: float = 0.25) -> Iterator[None]:
    """Hold the warehouse's run lock for the block, waiting (and saying for whom) if needed.

    ``shared``: for work that is safe beside itself but not beside the other steps (landing one
    source: its own batches, unique per content). Shared holders run together; everything else
    waits for them, and they wait for it. Re-entry in a thread already holding the lock (in any
    mode) just nests."""
    key = _key(eng)
    held = _held()
    if key in held:
        held[key][0] += 1
        if task and held[key][2].get("task") != task:
            _name_task(eng, held[key][2], task)
        try:
            yield
        finally:
            held[key][0] -= 1
        return
    limit = timeout if timeout is not None else float(os.environ.get("LEADFLOW_LOCK_TIMEOUT", DEFAULT_TIMEOUT))
    t0 = time.monotonic()
    said = False
    while (release := _try(eng, shared)) is None:
        who = _row(eng)
        if not said:
            log.warning("waiting for %s", describe(who))
            said = True
        if time.monotonic() - t0 > limit:
            raise StoreError(f"gave up after {limit:g}s waiting for {describe(who)} to finish "
                             f"(warehouse {db._redact(key)})")
        time.sleep(poll)
    me = {"name": NAME, "run_id": run_id, "task": task, "host": socket.gethostname()[:200],
          "pid": os.getpid(), "acquired_at": utcnow()}
    try:
        with eng.begin() as c:
            db.upsert(c, run_locks, [me], ["name"], ["run_id", "task", "host", "pid", "acquired_at"])
    except Exception:
        release()
        raise
    held[key] = [1, release, me]
    try:
        yield
    finally:
        del held[key]
        try:
            with eng.begin() as c:
                c.execute(sa.delete(run_locks).where(run_locks.c.name == NAME,
                                                     run_locks.c.pid == me["pid"],
                                                     run_locks.c.host == me["host"]))
        except Exception as e:  # noqa: BLE001 - the row only names a holder; the lock is what counts
            log.warning("run lock row not cleared: %s", type(e).__name__)
        finally:
            release()
