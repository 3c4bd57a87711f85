"""Benchmark the demo generator: python -m bench.demo_data --leads 1000000 [--out DIR] [--keep].

Prints seconds and peak memory (target: 1,000,000 leads in under 60 s on 2 cores) and writes
JSON to bench/results/demo_data_<leads>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import psutil


class PeakRss:
    """Sample this process's resident memory every 50 ms; keep the peak."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        p = psutil.Process(os.getpid())
        while not self._stop.is_set():
            self.peak = max(self.peak, p.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    a = ap.parse_args()

    from leadflow.demo import generate
    out = a.out or Path(tempfile.mkdtemp(prefix="leadflow-demo-"))
    proc = psutil.Process()
    with PeakRss() as mem:
        c0, t0 = proc.cpu_times(), time.perf_counter()
        info = generate(out, a.leads, seed=a.seed, days=a.days, end_date=date(2026, 11, 26))
        secs = time.perf_counter() - t0
        c1 = proc.cpu_times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    load = os.getloadavg()[0]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    res = {"bench": "demo_data", "leads": a.leads, "days": a.days, "seed": a.seed,
           "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "load_avg_1min": round(load, 2),
           "peak_rss_mib": round(mem.peak / 2**20, 1),
           "output_mib": round(size / 2**20, 1), "target_seconds": 60,
           "counts": {k: v for k, v in info.items() if isinstance(v, int)},
           "cpu_seconds_by_phase": info["cpu_seconds_by_phase"],
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "ram_gib": round(psutil.virtual_memory().total / 2**30, 1)}}
    if not (a.keep or a.out):
        shutil.rmtree(out, ignore_errors=True)
    dest = Path(__file__).resolve().parent / "results" / f"demo_data_{a.leads}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"demo data: {a.leads:,} leads, {info['people']:,} people, {info['touches']:,} touches "
          f"in {secs:.1f} s wall ({cpu:.1f} s CPU, load avg {load:.1f}), peak {res['peak_rss_mib']:.0f} MiB, {res['output_mib']:.0f} MiB written "
          f"(target < 60 s) -> {dest}")
    print("CPU seconds by phase: " + ", ".join(f"{k} {v}" for k, v in info["cpu_seconds_by_phase"].items()))


if __name__ == "__main__":
    main()
