"""Shared benchmark helpers: a peak-memory sampler and result writing."""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"


class PeakRSS:
    """Samples this process's resident memory (plus children) every 20 ms; keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._proc = psutil.Process(os.getpid())

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for ch in self._proc.children(recursive=True):
            try:
                total += ch.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self._rss()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._rss())


@contextmanager
def measure(label: str, out: dict[str, Any]) -> Iterator[None]:
    """Time a block and record its seconds and peak RSS (MiB) under ``label``."""
    with PeakRSS() as m:
        t0, c0 = time.perf_counter(), time.process_time()
        yield
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out[label] = {"seconds": round(secs, 3), "peak_mib": round(m.peak / 2**20, 1), "cpu_seconds": round(cpu, 3)}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"bench": name, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
               "mem_gib": round(psutil.virtual_memory().total / 2**30, 1)}, **payload}
    p = RESULTS / f"{name}.json"
    p.write_text(json.dumps(payload, indent=2, default=str))
    return p


def print_table(rows: dict[str, dict[str, Any]], title: str) -> None:
    print(title)
    print(f"{'stage':<22}{'seconds':>10}{'peak MiB':>12}  notes")
    for k, v in rows.items():
        notes = {kk: vv for kk, vv in v.items() if kk not in ("seconds", "peak_mib")}
        print(f"{k:<22}{v['seconds']:>10.2f}{v['peak_mib']:>12.0f}  {notes if notes else ''}")


PG_URL = os.environ.get("LEADFLOW_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_warehouse(postgres: bool, tmp: Path) -> Iterator[str]:
    """A URL of a throw-away warehouse: a SQLite file in ``tmp`` or a new PostgreSQL schema
    (dropped afterwards). The engine cache entry is disposed of on the way out."""
    import uuid

    import sqlalchemy as sa

    from leadflow.store import db
    schema = f"bench_{uuid.uuid4().hex[:8]}" if postgres else None
    if schema:
        with sa.create_engine(PG_URL).begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'warehouse.db'}"
    try:
        yield url
    finally:
        eng = db._ENGINES.pop(url, None)
        if eng is not None:
            eng.dispose()
        if schema:
            with sa.create_engine(PG_URL).begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def demo_config(tmp: Path) -> Path:
    """The project's leadflow.yaml with its folders (data, reports, models) inside ``tmp``."""
    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "leadflow.yaml").read_text())
    doc["paths"] = {"data_dir": str(tmp / "data"), "reports_dir": str(tmp / "reports"),
                    "lists_dir": str(tmp / "reports" / "lead_lists")}
    for s in doc.get("sources", []):
        if s["connector"].get("type") == "file":
            s["connector"]["path"] = str(tmp / "data" / Path(s["connector"]["path"]).relative_to("data"))
            s["connector"]["min_age_seconds"] = 0
    if "model" in doc:
        doc["model"]["artifacts_dir"] = str(tmp / "models")
    p = tmp / "leadflow.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p
