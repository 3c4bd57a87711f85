"""Time the feedback step, the SQL marts, attribution and the HTML report on a large warehouse.

    python -m bench.report --people 100000 [--postgres]

Seeds a synthetic, consistent warehouse (leadflow.report.synthetic) with the CRM outcomes landed
in staging, then times: apply_outcomes (match, checks, outcomes, handoffs, lifecycle), each mart
in sql/, attribution (5 models) and the full report build (charts + CSV extracts). Prints
seconds and peak memory per stage and writes bench/results/report_<n>[_pg].json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

from bench._util import measure, print_table, scratch_warehouse, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--postgres", action="store_true")
    a = ap.parse_args()

    from leadflow import config as cfg
    from leadflow.context import RunContext
    from leadflow.feedback import apply_outcomes
    from leadflow.report import attribution, marts, page, synthetic
    from leadflow.store import db

    tmp = Path(tempfile.mkdtemp(prefix="leadflow-bench-report-"))
    rows: dict[str, dict] = {}
    try:
        with scratch_warehouse(a.postgres, tmp) as url:
            eng = db.engine(url)
            db.init(eng)
            with measure("seed", rows):
                frames = synthetic.seed(eng, outcomes_in_staging=True, n_people=a.people, seed=1, days=84)
            rows["seed"].update({"people": a.people, "outcomes": len(frames["outcomes"]),
                                 "touches": len(frames["touches"]), "handoffs": len(frames["handoffs"])})
            settings = cfg.parse({"paths": {"reports_dir": str(tmp / "reports")}})
            ctx = RunContext(settings, eng, date(2027, 3, 1), "bench:report")
            with measure("feedback", rows):
                c = apply_outcomes(ctx)
            rows["feedback"].update({"loaded": c["loaded"], "quarantined": c["quarantined"],
                                     "transitions": sum(c["transitions"].values())})
            w = marts.window_for(eng, ctx.run_date)
            out = {}
            for name in marts.MARTS:
                with measure(f"mart:{name}", rows):
                    out.update(marts.run(eng, w, [name]))
                rows[f"mart:{name}"]["rows"] = len(out[name])
            with measure("attribution", rows):
                cr = attribution.credit(out["attribution_deals"], out["attribution_touches"])
            ok = all(int(cr[cr["model"] == m]["cents"].sum()) == attribution.won_cents(out["attribution_deals"])
                     for m in attribution.MODELS)
            rows["attribution"].update({"deals": len(out["attribution_deals"]), "sums_exact": ok})
            with measure("report_build", rows):
                r = page.build(ctx)
            rows["report_build"]["csv_files"] = r["csv_files"]
            label = f"report_{a.people}" + ("_pg" if a.postgres else "")
            print_table(rows, f"bench.report: {a.people:,} people on {'PostgreSQL' if a.postgres else 'SQLite'}")
            print(f"written: {write_result(label, {'people': a.people, 'backend': 'postgresql' if a.postgres else 'sqlite', 'stages': rows, 'at': datetime.now().isoformat(timespec='seconds')})}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
