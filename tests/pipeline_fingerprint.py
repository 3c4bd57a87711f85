"""What the daily pipeline decided on demo data, day by day, in a form that can be compared.

The demo's deliveries are released one day at a time (files dated after the run date are held
back), so every day after the first runs against a warehouse that already holds people,
touches, scores and handoffs: the incremental paths of identity, scoring and the queue.

People are named by address (else source key), never by id: ids are a backend's sequence
numbers. The fixture ``tests/data/pipeline_fingerprint.json`` was written by the code before
the batch-proportional daily run (issue 17), with:

    PYTHONPATH=$PWD python -m tests.pipeline_fingerprint --write

One deliberate change since, patched into that fixture by hand (nothing else of it rewritten):
company sizes written as a band are read as a head count (c75a501), so on 2026-11-26 the two demo
leads whose size is "500+" load (their people are leads with a record, not suspects) instead of
being quarantined at ingest; a fresh run with the current code differs from the fixture in
nothing else that the test compares (handoffs, scores at handoff, quarantine, people).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

FIXTURE = Path(__file__).resolve().parent / "data" / "pipeline_fingerprint.json"
RUN_DATE = date(2026, 11, 26)
DAYS = 3
LEADS = 900
SEED = 5
_DATED = re.compile(r"(\d{4}-\d{2}-\d{2})")

_HANDOFFS = """
SELECT COALESCE(p.email_norm, p.source_key) AS who, h.cycle, h.owner_rep, h.route_rule,
       h.qualified_by, h.run_date, h.score, h.grade, h.probability, h.status
FROM handoffs h JOIN people p ON p.person_id = h.person_id
"""
_SCORES = """
SELECT COALESCE(p.email_norm, p.source_key) AS who, s.score_date, s.fit_points, s.grade,
       s.engagement_points, s.score, s.probability, s.model_version, s.reasons
FROM scores s JOIN people p ON p.person_id = s.person_id
WHERE s.person_id IN (SELECT person_id FROM handoffs)
"""
_QUARANTINE = "SELECT source, kind, stage, row_number, reasons, status FROM quarantine"
_PEOPLE = """
SELECT COALESCE(p.email_norm, p.source_key) AS who, p.lifecycle_stage, p.cycle,
       COUNT(r.record_id) AS records
FROM people p LEFT JOIN person_records r ON r.person_id = p.person_id
GROUP BY p.person_id, p.email_norm, p.source_key, p.lifecycle_stage, p.cycle
"""


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.dumps(json.loads(v), sort_keys=True)
        except ValueError:
            return v
    return v if v is None or isinstance(v, (int, str)) else str(v)[:19] if hasattr(v, "year") else str(v)


def _rows(conn: sa.Connection, sql: str) -> list[list[Any]]:
    rows = [[_norm(v) for v in r] for r in conn.execute(sa.text(sql))]
    return sorted(rows, key=lambda r: json.dumps(r, default=str))


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as c:
        return {"handoffs": _rows(c, _HANDOFFS), "scores_of_handed_off": _rows(c, _SCORES),
                "quarantine": _rows(c, _QUARANTINE), "people": _rows(c, _PEOPLE)}


def scores_at_handoff(snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with only each handed-off person's score of the handoff's own day. Since the
    daily step scores only the day's due people (issue 17), a person already handed off gets a
    new score row only when their inputs change; what sales received is the score at handoff."""
    when = {(h[0], h[5]) for h in snap["handoffs"]}
    return {**snap, "scores_of_handed_off": [r for r in snap["scores_of_handed_off"] if (r[0], r[1]) in when]}


def _config(tmp: Path) -> Path:
    """The project's leadflow.yaml with its folders inside ``tmp`` (as tests.conftest.demo_config)."""
    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "leadflow.yaml").read_text())
    doc["paths"] = {"data_dir": str(tmp / "data"), "reports_dir": str(tmp / "reports"),
                    "lists_dir": str(tmp / "reports" / "lead_lists")}
    for s in doc.get("sources", []):
        con = s["connector"]
        if con.get("type") == "file":
            con["path"] = str(tmp / "data" / Path(con["path"]).relative_to("data"))
            con["min_age_seconds"] = 0
    if "model" in doc:
        doc["model"]["artifacts_dir"] = str(tmp / "models")
    p = tmp / "leadflow.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return p


def run_days(tmp: Path, db_url: str) -> dict[str, Any]:
    """Generate the demo, then run the daily pipeline for each day with that day's files."""
    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.store import db
    cfg_path = _config(tmp)
    demo.generate(tmp / "data", leads=LEADS, seed=SEED, days=DAYS, end_date=RUN_DATE)
    landing, hold = tmp / "data" / "landing", tmp / "held"
    for f in [p for p in landing.rglob("*") if p.is_file() and _DATED.search(p.name)]:
        target = hold / f.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(f), target)
    settings = cfg.load(cfg_path)
    eng = db.engine(db_url)
    db.init(eng)
    out: dict[str, Any] = {}
    for back in range(DAYS - 1, -1, -1):
        day = RUN_DATE - timedelta(days=back)
        for f in sorted(p for p in hold.rglob("*") if p.is_file()):
            m = _DATED.search(f.name)
            if m and date.fromisoformat(m.group(1)) <= day:
                target = landing / f.relative_to(hold)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(f), target)
        pipeline.run_daily(RunContext(settings, eng, day, make_run_id("fp", day), "test"))
        out[day.isoformat()] = snapshot(eng)
    return out


def main() -> None:
    import argparse
    import os
    import tempfile

    ap = argparse.ArgumentParser(description="write the pipeline fingerprint fixture")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{Path(d) / 'fp.db'}"
        os.environ["LEADFLOW_DATABASE_URL"] = url
        fp = run_days(Path(d), url)
    summary = {k: {kk: len(vv) for kk, vv in v.items()} for k, v in fp.items()}
    print(json.dumps(summary))
    if a.write:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(fp, indent=0, sort_keys=True, default=str) + "\n")
        print(f"written {FIXTURE}")


if __name__ == "__main__":
    main()
