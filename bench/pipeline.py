"""Time each stage of the daily pipeline on generated demo data.

    python -m bench.pipeline --leads 100000 [--postgres] [--days 7]

Generates demo data into a temporary folder, initialises a fresh warehouse (a SQLite file, or a
new schema on PostgreSQL with --postgres), runs every daily step for the last demo day, then
prints seconds and peak resident memory per stage and writes bench/results/pipeline_<n>.json.

Before the steps it measures the I/O floor for the same data: every landing file read with
pandas and the same number of rows bulk-written (the store's ``copy_upsert``) into scratch tables
of the same backend; the pipeline's total is printed as a multiple of that floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import yaml

from bench._util import measure, print_table, write_result

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("LEADFLOW_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def io_floor(landing: Path, engine: sa.Engine) -> dict[str, float]:
    """Seconds to read the landing files with pandas and to bulk-write their rows (all columns
    as text) into scratch tables, then drop them: what no pipeline over this data can beat."""
    import time

    import pandas as pd

    from leadflow.store import db
    t0 = time.perf_counter()
    frames = []
    for f in sorted(p for p in landing.rglob("*") if p.is_file()):
        if f.suffix == ".csv":
            frames.append(pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""]))
        elif f.suffix in (".jsonl", ".json"):
            frames.append(pd.read_json(f, lines=f.suffix == ".jsonl", dtype=False))
    t_read = time.perf_counter() - t0
    md = sa.MetaData()
    tables = [sa.Table(f"bench_floor_{i}", md, *(sa.Column(str(c), sa.Text) for c in df.columns))
              for i, df in enumerate(frames)]
    md.create_all(engine)
    t0 = time.perf_counter()
    try:
        with engine.begin() as conn:
            for t, df in zip(tables, frames):
                db.copy_upsert(conn, t, df.astype("string"))
        t_write = time.perf_counter() - t0
    finally:
        md.drop_all(engine)
    return {"read": round(t_read, 3), "write": round(t_write, 3), "rows": sum(len(f) for f in frames)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args()

    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.monitor import run_step
    from leadflow.store import db

    tmp = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    run_date = date(2026, 11, 26)
    rows: dict[str, dict] = {}
    schema = None
    try:
        doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text())
        doc["paths"] = {"data_dir": str(tmp / "data"), "reports_dir": str(tmp / "reports"),
                        "lists_dir": str(tmp / "reports" / "lead_lists")}
        for s in doc.get("sources", []):
            s["connector"]["path"] = str(tmp / "data" / Path(s["connector"]["path"]).relative_to("data"))
            if s["connector"].get("type") == "file":
                s["connector"]["min_age_seconds"] = 0
        (tmp / "leadflow.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        if a.postgres:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with sa.create_engine(PG).begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            os.environ["LEADFLOW_DATABASE_URL"] = f"{PG}?options=-csearch_path%3D{schema}"
        else:
            os.environ["LEADFLOW_DATABASE_URL"] = f"sqlite:///{tmp / 'warehouse.db'}"
        settings = cfg.load(tmp / "leadflow.yaml")
        with measure("demo-data", rows):
            info = demo.generate(tmp / "data", leads=a.leads, seed=7, days=a.days, end_date=run_date)
        print(f"  demo-data  {rows['demo-data']['seconds']:8.2f} s (not part of the pipeline)", flush=True)
        eng = db.engine(settings.database_url)
        db.init(eng)
        floor = io_floor(tmp / "data" / "landing", eng)
        print(f"  I/O floor  read {floor['read']:.2f} s + write {floor['write']:.2f} s "
              f"({floor['rows']} rows)", flush=True)
        ctx = RunContext(settings, eng, run_date, make_run_id("bench", run_date), "bench")
        for name, fn in pipeline.DAILY_STEPS:
            with measure(name, rows):
                counts = run_step(ctx, name, fn)
            flat = {**{k: v for k, v in counts.items()},
                    **{f"{k}.{kk}": vv for k, v in counts.items() if isinstance(v, dict)
                       for kk, vv in v.items()}}
            rows[name]["counts"] = {k: v for k, v in flat.items()
                                    if isinstance(v, (int, float)) and not k.endswith("seconds")}
            print(f"  {name:<10} {rows[name]['seconds']:8.2f} s  peak {rows[name]['peak_mib']:7.0f} MiB",
                  flush=True)
        total = sum(v["seconds"] for k, v in rows.items() if k != "demo-data")
        rows["pipeline total"] = {"seconds": round(total, 3),
                                  "peak_mib": max(v["peak_mib"] for v in rows.values())}
        backend = "postgresql" if a.postgres else "sqlite"
        print_table(rows, f"leadflow pipeline, {a.leads} leads, {backend}")
        floor_s = floor["read"] + floor["write"]
        print(f"I/O floor {floor_s:.2f} s; pipeline / floor = {total / floor_s:.1f}x")
        p = write_result(f"pipeline_{backend}_{a.leads}", {"leads": a.leads, "backend": backend,
                                                             "generated": {k: v for k, v in info.items()
                                                                           if isinstance(v, (int, float, str))},
                                                             "stages": rows, "io_floor": floor})
        print(f"written {p}")
    finally:
        if schema:
            with sa.create_engine(PG).begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
