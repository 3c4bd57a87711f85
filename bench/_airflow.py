"""Real Airflow services for the benches and the slow-tier tests: a temporary AIRFLOW_HOME with
SQLite metadata, the api-server / dag-processor / scheduler / triggerer as subprocesses of their
own (stopped by their process ids), and small readers of the metadata DB.

Airflow runs in subprocesses with their own AIRFLOW_HOME so the caller's settings never leak.
Shared by bench/speed_to_lead.py and tests/test_intraday_e2e.py (tests/test_dags_e2e.py may
import ``free_port``, ``airflow_env``, ``migrate``, ``services``, ``meta``, ``wait`` and
``airflow_cli`` from here instead of keeping its own copies).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent

#: Scheduler settings for a fast reaction on a small machine (the bench and the docs use these):
#: the scheduler loop sleeps at most ``scheduler_idle_sleep_time`` when idle; the DAG processor
#: re-lists the folder every ``refresh_interval``.
FAST = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without AIRFLOW_* / LEADFLOW_*, pointed at ``home`` (SQLite
    metadata, LocalExecutor, the project's dags/, an api-server on a free port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LEADFLOW_"))}
    port = free_port()
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "PYTHONPATH": str(ROOT),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__API__WORKERS": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    env.update(FAST)
    env.update(extra)
    return env


def migrate(env: dict[str, str], timeout: float = 300) -> dict[str, str]:
    """``airflow db migrate`` in ``env``'s home; returns ``env``."""
    r = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError(f"airflow db migrate failed:\n{r.stderr[-3000:]}")
    return env


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


@contextmanager
def services(env: dict[str, str], home: Path, names: tuple[str, ...],
             health_timeout: float = 180) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the named Airflow services (logs in ``home/<name>.log``); when the api-server is one,
    wait until it answers. Each is stopped (its process group, by id) at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            log = open(home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen([str(BIN / "airflow"), name], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        if "api-server" in names:
            url = f"{env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health"
            wait("the api-server", lambda: _answers(url), health_timeout, home, logs=("api-server",))
        yield procs
    finally:
        _stop(procs)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def meta(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """A read-only query of the metadata DB."""
    con = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait(what: str, fn: Callable[[], Any], timeout: float, home: Path, every: float = 1.0,
         logs: tuple[str, ...] = ("scheduler", "dag-processor", "triggerer")) -> Any:
    """Poll ``fn`` until it returns something true; TimeoutError with the services' log tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
        except sqlite3.OperationalError:       # metadata DB busy or not migrated yet
            v = None
        if v:
            return v
        time.sleep(every)
    tails = "\n".join(f"--- {n}\n" + (home / f"{n}.log").read_text(errors="replace")[-2500:]
                      for n in logs if (home / f"{n}.log").exists())
    raise TimeoutError(f"timed out waiting for {what}\n{tails}")


def airflow_cli(env: dict[str, str], *args: str, tries: int = 6) -> str:
    """Run an airflow CLI command; retried while the busy SQLite metadata DB is locked."""
    for _ in range(tries):
        r = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True,
                           timeout=120)
        if r.returncode == 0 or "database is locked" not in r.stderr + r.stdout:
            break
        time.sleep(3)
    if r.returncode:
        raise RuntimeError(f"airflow {' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def unpause_when_parsed(env: dict[str, str], home: Path, dag_id: str, timeout: float = 180) -> None:
    wait(f"{dag_id} to be parsed", lambda: meta(home, "SELECT 1 FROM dag WHERE dag_id=?", dag_id),
         timeout, home)
    airflow_cli(env, "dags", "unpause", dag_id)
