"""Qualify, route and queue N MQLs (default 100,000), then deliver the lead lists.

    python -m bench.handoff [--mqls 100000] [--postgres] [--no-deliver]

Seeds people, accounts, scores and hand-raiser touches straight into a fresh warehouse (a SQLite
file, or a new schema on PostgreSQL with --postgres), then times:
  plan      candidates + qualification + suppression + routing (no writes)
  route     routing alone on the qualified frame (pure pandas/numpy)
  queue     the full leadflow.handoff.queue (plan + re-check + inserts + lifecycle), once
  requeue   the same day again (must insert nothing)
  deliver   per-rep CSV, XLSX and HTML lists
and prints seconds and peak resident memory; JSON goes to bench/results/handoff_<n>[_pg].json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench._util import measure, print_table, scratch_warehouse, write_result

RUN_DATE = date(2026, 11, 26)


def _config(tmp: Path, n_reps: int, cap: int) -> dict:
    reps = [{"id": f"rep{i:02d}", "name": f"Rep {i}", "weight": 1 + (i % 3), "capacity_per_day": cap,
             "timezone": ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"][i % 4],
             "email": f"rep{i}@sales.example"} for i in range(n_reps)]
    reps[3]["out_of_office"] = [{"start": RUN_DATE - timedelta(days=2), "end": RUN_DATE + timedelta(days=2)}]
    return {
        "paths": {"data_dir": str(tmp / "data"), "reports_dir": str(tmp / "reports"),
                  "lists_dir": str(tmp / "lists")},
        "qualification": {"min_grade": "B", "min_score": 70, "competitor_domains": ["acct7.example"]},
        "routing": {"reps": reps,
                    "territories": [
                        {"name": "dach_ent", "countries": ["DE"], "min_company_size": 1000,
                         "reps": ["rep00", "rep01", "rep02"]},
                        {"name": "na", "countries": ["US", "CA"], "reps": ["rep03", "rep04", "rep05", "rep06"]},
                        {"name": "apac", "countries": ["IN", "AU"], "reps": ["rep07", "rep08"]}],
                    "account_owners": {"acct1.example": "rep09"}},
    }


def _seed(engine: sa.Engine, n: int) -> None:
    from leadflow.handoff import synthetic as syn
    ppl, acc = syn.synthetic_mqls(n, seed=11)
    rng = np.random.default_rng(12)
    for a in acc[: len(acc) // 10]:
        a["owner_rep"] = f"rep{int(rng.integers(0, 20)):02d}"
    with engine.begin() as c:
        syn.add_accounts(c, acc)
        syn.add_people(c, ppl)
        grade = rng.choice(["A", "B"], n)
        syn.add_scores(c, pd.DataFrame({
            "person_id": ppl["person_id"], "score": rng.uniform(70, 100, n).round(1), "grade": grade,
            "reasons": [["Senior title", "Visited pricing page", "Attended a webinar"]] * n}), RUN_DATE)
        hr = ppl.sample(frac=0.05, random_state=1)["person_id"]
        syn.add_touches(c, pd.DataFrame({
            "person_id": np.concatenate([hr, ppl["person_id"]]),
            "touch_type": ["demo_request"] * len(hr) + ["page_view"] * n,
            "occurred_at": datetime(2026, 11, 25, 10), "channel": "paid_search",
            "source_touch_id": [f"b{i}" for i in range(len(hr) + n)]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mqls", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--cap", type=int, default=6000, help="daily capacity per rep")
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--no-deliver", action="store_true")
    a = ap.parse_args()

    from leadflow import config as cfg
    from leadflow.context import RunContext, make_run_id
    from leadflow.handoff import deliver, queue
    from leadflow.handoff.enqueue import plan, today_counts
    from leadflow.route import route
    from leadflow.store import db

    tmp = Path(tempfile.mkdtemp(prefix="leadflow-bench-handoff-"))
    rows: dict[str, dict] = {}
    try:
        with scratch_warehouse(a.postgres, tmp) as url:
            eng = db.engine(url)
            db.init(eng)
            settings = cfg.parse(_config(tmp, a.reps, a.cap))
            ctx = RunContext(settings, eng, RUN_DATE, make_run_id("bench", RUN_DATE), "bench")
            with measure("seed (not timed work)", rows):
                _seed(eng, a.mqls)
            with measure("plan", rows):
                planned = plan(ctx)
            rows["plan"]["qualified"] = int((planned["status"] == "qualified").sum())
            go = planned[(planned["status"] == "qualified") & planned["suppressed"].isna()]
            with measure("route", rows):
                route(go.drop(columns=["owner_rep", "route_rule", "route_reason"]), settings.routing,
                      RUN_DATE, today_counts(eng, RUN_DATE))
            rows["route"]["leads"] = int(len(go))
            with measure("queue", rows):
                out = queue(ctx)
            rows["queue"].update(mql=out["mql"], handed_off=out["handed_off"], suppressed=out["suppressed"],
                                 fallback=out["per_rep"].get("unassigned", 0), by_rule=out.get("by_rule"))
            with measure("requeue (same day)", rows):
                again = queue(ctx)
            rows["requeue (same day)"]["handed_off"] = again["handed_off"]
            with eng.connect() as c:
                dup = c.execute(sa.text("SELECT COUNT(*) FROM (SELECT person_id, cycle FROM handoffs "
                                        "GROUP BY person_id, cycle HAVING COUNT(*) > 1) d")).scalar()
            rows["requeue (same day)"]["duplicates"] = int(dup)
            if not a.no_deliver:
                with measure("deliver", rows):
                    d = deliver(ctx)
                rows["deliver"].update(files=d["files"], leads=d["leads"])
            backend = "postgresql" if a.postgres else "sqlite"
            print_table(rows, f"handoff bench: {a.mqls} MQL candidates on {backend}")
            p = write_result(f"handoff_{a.mqls}{'_pg' if a.postgres else ''}",
                             {"mqls": a.mqls, "backend": backend, "stages": rows})
            print(f"results: {p}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
