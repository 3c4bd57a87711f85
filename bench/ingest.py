"""Ingest throughput: a ~20-column, 1M-row CSV landed into SQLite and (with --postgres) PostgreSQL.

    python -m bench.ingest --rows 1000000 [--postgres] [--pg-url URL]

Each backend runs in its own child process so its peak memory (ru_maxrss) is its own.
Prints rows/s, seconds and peak memory; writes JSON to bench/results/ingest-<ts>.json.
Target: <= 30 s and <= 2 GiB peak per backend on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

PG_URL = os.environ.get("LEADFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A lead export with the usual mix: ids, text, numbers, dates, yes/no, a few bad values."""
    rng = np.random.default_rng(seed)
    chunk = 250_000
    first = True
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ids = np.arange(start + 1, start + n + 1)
        df = pd.DataFrame({
            "Lead ID": np.char.add("L", ids.astype(str)),
            "Email": np.char.add(np.char.add("user", ids.astype(str)), "@example.com"),
            "First Name": rng.choice(["Ann", "Bob", "Chen", "Dana", "Eve", "Femi"], n),
            "Last Name": rng.choice(["Smith", "Jones", "Garcia", "Kim", "Okafor"], n),
            "Phone": np.char.add("+4420", rng.integers(10_000_000, 99_999_999, n).astype(str)),
            "Company": rng.choice(["Acme", "Globex", "Initech", "Umbrella", "Hooli"], n),
            "Domain": rng.choice(["acme.com", "globex.com", "initech.io", "hooli.com"], n),
            "Title": rng.choice(["VP Marketing", "CTO", "Analyst", "Head of Sales", "Student"], n),
            "Industry": rng.choice(["Software", "Retail", "Finance", "Health"], n),
            "Employees": rng.integers(1, 20_000, n),
            "Country": rng.choice(["GB", "US", "DE", "FR", "IN"], n),
            "City": rng.choice(["London", "Austin", "Berlin", "Paris", "Pune"], n),
            "Lead Source": rng.choice(["Google", "google", "Webinar", "Select", "Referral"], n),
            "Campaign": rng.choice(["C1", "C2", "C3"], n),
            "Channel": rng.choice(["paid_search", "email", "webinar"], n),
            "Landing URL": "https://example.com/lp?utm_source=google",
            "Created": (pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 300, n), unit="s"))
                       .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Do Not Email": rng.choice(["Yes", "No"], n, p=[0.1, 0.9]),
            "Do Not Call": rng.choice(["Yes", "No"], n, p=[0.1, 0.9]),
            "Visits": rng.integers(0, 40, n),
        })
        bad = rng.random(n) < 0.001           # ~0.1% rows with a non-numeric employee count
        df["Employees"] = df["Employees"].astype(str).where(~bad, "lots")
        df.to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


CONFIG = {
    "sources": [{
        "name": "bench_leads", "owner": "bench", "kind": "inbound_leads",
        "connector": {"type": "file", "path": "landing", "pattern": "*.csv", "min_age_seconds": 0},
        "mapping": {"Lead ID": "source_record_id", "Email": "email", "First Name": "first_name",
                    "Last Name": "last_name", "Phone": "phone", "Company": "company",
                    "Domain": "company_domain", "Title": "job_title", "Industry": "industry",
                    "Employees": "company_size", "Country": "country", "City": "city",
                    "Lead Source": "lead_source", "Campaign": "campaign_id", "Channel": "channel",
                    "Landing URL": "landing_url", "Created": "created_at", "Do Not Email": "opt_out",
                    "Do Not Call": "do_not_call"},
        "value_maps": {"*": {"Select": None}, "lead_source": {"google": "Google"}},
        "attributes": {"Visits": "capture"},
    }]
}


def _run(backend: str, csv_path: str, workdir: str, url: str, q: mp.Queue) -> None:
    import sqlalchemy as sa
    import yaml

    from leadflow import config as cfg
    from leadflow.context import RunContext
    from leadflow.ingest import land, summarise
    from leadflow.store import db

    wd = Path(workdir)
    (wd / "landing").mkdir(parents=True, exist_ok=True)
    os.link(csv_path, wd / "landing" / "leads.csv") if not (wd / "landing" / "leads.csv").exists() else None
    (wd / "leadflow.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    if backend == "postgresql":
        schema = f"bench_{os.getpid()}"
        admin = sa.create_engine(url)
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
        url = f"{url}?options=-csearch_path%3D{schema}"
    os.environ["LEADFLOW_DATABASE_URL"] = url
    settings = cfg.load(wd / "leadflow.yaml")
    eng = db.engine(url)
    db.init(eng)
    ctx = RunContext(settings, eng, date(2026, 11, 26), "bench:ingest", "bench")
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    res = land(ctx)
    secs = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    load = os.getloadavg()[0]
    s = summarise(res)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if backend == "postgresql":
        eng.dispose()
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    q.put({"backend": backend, "seconds": round(secs, 2), "rows_in": s["rows_in"],
           "rows_landed": s["rows_landed"], "rows_rejected": s["rows_rejected"], "errors": s["errors"],
           "rows_per_second": round(s["rows_in"] / secs) if secs else None,
           "peak_rss_mib": round(peak / 2**20, 1), "client_cpu_seconds": round(cpu, 2),
           "load_average_1min": round(load, 2)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--postgres", action="store_true", help="also run against PostgreSQL")
    ap.add_argument("--pg-url", default=PG_URL)
    a = ap.parse_args()
    out = []
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        csv_path = Path(tmp) / "leads.csv"
        t = time.perf_counter()
        make_csv(csv_path, a.rows)
        print(f"generated {a.rows:,} rows x 20 columns ({csv_path.stat().st_size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - t:.1f}s")
        backends = [("sqlite", f"sqlite:///{tmp}/sqlite/warehouse.db")]
        if a.postgres:
            backends.append(("postgresql", a.pg_url))
        ctx = mp.get_context("spawn")
        for name, url in backends:
            q: mp.Queue = ctx.Queue()
            p = ctx.Process(target=_run, args=(name, str(csv_path), f"{tmp}/{name}", url, q))
            p.start()
            r = q.get()
            p.join()
            out.append(r)
            ok = "OK" if r["seconds"] <= 30 and r["peak_rss_mib"] <= 2048 else "OVER TARGET"
            print(f"{name:10s} {r['rows_in']:>9,} rows  {r['seconds']:6.2f} s  {r['rows_per_second']:>9,} rows/s  "
                  f"peak {r['peak_rss_mib']:7.1f} MiB  landed {r['rows_landed']:,} rejected "
                  f"{r['rows_rejected']:,}  client CPU {r['client_cpu_seconds']:.1f} s, "
                  f"load avg {r['load_average_1min']}  [{ok}]")
            for e in r["errors"][:3]:
                print("   error:", e)
    res_dir = Path(__file__).resolve().parent / "results"
    res_dir.mkdir(exist_ok=True)
    doc = {"bench": "ingest", "rows": a.rows, "columns": 20, "machine": platform.platform(),
           "cpus": os.cpu_count(), "note": "other work may share the CPU; figures are wall-clock",
           "results": out}
    f = res_dir / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    f.write_text(json.dumps(doc, indent=2))
    print(f"wrote {f}")


if __name__ == "__main__":
    main()
