"""Scoring and training speed: score N leads (rules, then rules + model) and train on N outcomes.

    python -m bench.score --leads 1000000 --outcomes 1000000 [--db]

Synthetic people and touches (about three touches per lead) are built in memory, so the figures
are the scoring and training logic itself: scoring with the model that training promoted, and
again with a gradient-boosting model (trained on the same outcomes), so both live-model kinds
are timed. With --db the leads are also loaded into a SQLite warehouse and the daily step
``leadflow.score.score_people(ctx)`` runs end to end (read people and touches, score, upsert
``scores``), with its own split of the seconds. Targets on the 2-core reference machine:
scoring 1,000,000 leads <= 20 s, training on 1,000,000 outcomes <= 2 minutes. The machine's
load average is printed at the start and the end (the machine is shared).
Writes bench/results/score_<leads>.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bench._util import measure as _measure
from bench._util import print_table, write_result


@contextmanager
def measure(label: str, out: dict) -> Iterator[None]:
    """Wall seconds and peak memory (bench._util) plus CPU seconds of this process: on a
    shared machine the CPU figure shows how much of the wall time was waiting for a core."""
    c0 = time.process_time()
    with _measure(label, out):
        yield
    out[label]["cpu_seconds"] = round(time.process_time() - c0, 2)

AS_OF = datetime(2026, 11, 26, 23, 59, 59)
SCORING = {
    "fit_rules": [
        {"field": "seniority", "in": ["vp", "c_level"], "points": 30, "reason": "Senior title"},
        {"field": "job_function", "equals": "marketing", "points": 15, "reason": "Works in marketing"},
        {"field": "company_size", "min": 200, "points": 15, "reason": "Company of {value} people"},
        {"field": "industry", "in": ["software", "finance"], "points": 10, "reason": "{value} industry"},
        {"field": "is_free_mail", "equals": True, "points": -20, "reason": "Uses a free-mail address"},
        {"field": "seniority", "equals": "student", "points": -40, "reason": "Student"},
    ],
    "engagement": {"demo_request": {"points": 40, "cap_per_day": 1},
                   "pricing_page": {"points": 10, "cap_per_day": 3},
                   "email_click": {"points": 3, "cap_per_day": 2},
                   "webinar": {"points": 15, "cap_per_day": 1},
                   "unsubscribe": {"points": -25, "cap_per_day": 1}},
}


def people(n: int, rng: np.random.Generator) -> pd.DataFrame:
    created = AS_OF - pd.to_timedelta(rng.integers(1, 120 * 24 * 60, n), unit="min")
    return pd.DataFrame({
        "person_id": np.arange(1, n + 1),
        "job_title": rng.choice(["VP of Marketing", "Marketing Manager", "Data Analyst", "CFO"], n),
        "seniority": rng.choice(["vp", "director", "manager", "ic", "student", "c_level"], n),
        "job_function": rng.choice(["marketing", "sales", "it", "finance"], n),
        "industry": rng.choice(["software", "retail", "finance", "education", "health"], n),
        "company_size": rng.choice([20, 80, 500, 5000], n), "country": rng.choice(["US", "GB", "DE"], n),
        "is_free_mail": rng.random(n) < 0.2, "is_role_address": rng.random(n) < 0.03,
        "is_competitor": False, "first_source": "web",
        "first_channel": rng.choice(["organic", "paid_search", "webinar", "email"], n),
        "account_match": "domain", "lifecycle_stage": "lead", "created_at": created,
        "attributes": None,
    })


def touches(ppl: pd.DataFrame, rng: np.random.Generator, per_lead: float = 3.0) -> pd.DataFrame:
    n = int(len(ppl) * per_lead)
    idx = rng.integers(0, len(ppl), n)
    created = pd.to_datetime(ppl["created_at"]).to_numpy()[idx]
    span = (np.datetime64(AS_OF) - created).astype("timedelta64[m]").astype(np.int64)
    occ = created + (rng.random(n) * span).astype("timedelta64[m]")
    tt = rng.choice(["page_view", "email_open", "email_click", "pricing_page", "webinar",
                     "demo_request", "download", "unsubscribe"], n,
                    p=[0.35, 0.25, 0.15, 0.1, 0.05, 0.03, 0.05, 0.02])
    return pd.DataFrame({"person_id": ppl["person_id"].to_numpy()[idx], "touch_type": tt,
                         "occurred_at": occ})


def load_warehouse(eng, ppl: pd.DataFrame, tch: pd.DataFrame) -> None:
    """People and touches into the SQLite warehouse through the raw driver (set-up, untimed)."""
    cols = ["person_id", "job_title", "seniority", "job_function", "industry", "company_size",
            "country", "is_free_mail", "is_role_address", "is_competitor", "first_source",
            "first_channel", "account_match", "lifecycle_stage", "created_at"]
    p = ppl[cols].copy()
    p["created_at"] = pd.to_datetime(p["created_at"]).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    p["updated_at"] = p["created_at"]
    p = p.assign(cycle=1, opt_out=0, do_not_contact=0)
    for c in ("is_free_mail", "is_role_address", "is_competitor"):
        p[c] = p[c].astype(int)
    t = tch.assign(source="bench", source_touch_id=np.arange(len(tch)).astype(str),
                   occurred_at=pd.to_datetime(tch["occurred_at"]).dt.strftime("%Y-%m-%d %H:%M:%S.%f"))
    raw = eng.raw_connection()
    try:
        for table, df in (("people", p), ("touches", t)):
            names = list(df.columns)
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            raw.cursor().executemany(sql, df.astype(object).itertuples(index=False, name=None))
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--outcomes", type=int, default=1_000_000)
    ap.add_argument("--db", action="store_true", help="also time the SQLite upsert of the scores")
    a = ap.parse_args()
    load_start = os.getloadavg()
    print(f"load average at start: {load_start} on {os.cpu_count()} cores")

    from leadflow import config as cfg
    from leadflow.score import registry, warehouse
    from leadflow.score.step import score_frame
    from leadflow.score.train import train
    from leadflow.store import db

    tmp = Path(tempfile.mkdtemp(prefix="bench_score_"))
    s = cfg.parse({"scoring": SCORING, "model": {"min_conversions": 100,
                                                 "artifacts_dir": str(tmp / "models")}})
    s.config_path = tmp / "leadflow.yaml"
    eng = db.engine(f"sqlite:///{tmp / 'w.db'}")
    db.init(eng)
    rng = np.random.default_rng(0)
    rows: dict[str, dict] = {}
    figures: dict[str, object] = {"leads": a.leads, "outcomes": a.outcomes,
                                  "load_average_start": load_start}

    # ---- training on N outcomes (features as of each handoff, built by the same code)
    tp = people(a.outcomes, rng)
    tt = touches(tp, rng)
    ex = pd.DataFrame({"person_id": tp["person_id"],
                       "as_of": pd.to_datetime(tp["created_at"]) + pd.Timedelta(days=5)})
    with measure("train_features", rows):
        X, _, _ = warehouse.build_frame(ex, tp, tt, s)
    z = (-1.5 + 0.9 * (X["industry"] == "software") + 0.6 * np.isin(X["seniority"], ["vp", "c_level"])
         + 0.5 * np.minimum(X["n_demo_request"], 2) + 0.2 * np.minimum(X["n_pricing_page"], 3)
         - 0.5 * X["is_free_mail"].astype(float))
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-z.to_numpy(float)))).astype(int)
    order = np.argsort(ex["as_of"].to_numpy(), kind="stable")
    X, y = X.iloc[order].reset_index(drop=True), y[order]
    times = ex["as_of"].iloc[order].reset_index(drop=True)
    with measure("train_models", rows):
        res = train(s, eng, AS_OF, frame=(X, y, times))
    rows["train_models"].update(algorithm=res["algorithm"], roc_auc=res["roc_auc"])
    figures["train"] = {k: res[k] for k in ("status", "algorithm", "roc_auc", "baseline_roc_auc",
                                           "examples", "conversions")}
    other = "gradient_boosting" if res["algorithm"] == "logistic" else "logistic"
    s2 = s.model_copy(deep=True)
    s2.config_path = s.config_path
    s2.model.algorithms = [other]
    with measure(f"train_{other}_only", rows):
        res2 = train(s2, eng, AS_OF, frame=(X, y, times))
    rows[f"train_{other}_only"]["roc_auc"] = res2["roc_auc"]
    del X, tp, tt, ex

    # ---- scoring N leads
    sp = people(a.leads, rng)
    st = touches(sp, rng)
    with measure("score_rules_only", rows):
        out = score_frame(sp, st, s, AS_OF, None)
    rows["score_rules_only"]["grades"] = out["grade"].value_counts().to_dict()
    bundle = registry.load(registry.get(eng, res["version"])["artifact_path"])
    label = f"score_with_model ({bundle.algorithm})"
    with measure(label, rows):
        out = score_frame(sp, st, s, AS_OF, bundle)
    figures["example_reasons"] = out["reasons"].head(3).tolist()
    bundle2 = registry.load(registry.get(eng, res2["version"])["artifact_path"])
    with measure(f"score_with_model ({bundle2.algorithm})", rows):
        score_frame(sp, st, s, AS_OF, bundle2)
    del out, bundle2
    if a.db:
        load_warehouse(eng, sp, st)
        from leadflow.context import RunContext
        from leadflow.score import score_people
        ctx = RunContext(s, eng, AS_OF.date(), "bench:score", "bench")
        with measure("score_people (SQLite, end to end)", rows):
            got = score_people(ctx)
        rows["score_people (SQLite, end to end)"].update(got["seconds"])
        figures["score_people"] = got
    print_table(rows, f"scoring {a.leads:,} leads / training on {a.outcomes:,} outcomes")
    print("example reasons:", figures["example_reasons"][0])
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} cores")
    figures["load_average_end"] = os.getloadavg()
    p = write_result(f"score_{a.leads}", {**figures, "stages": rows})
    print(f"wrote {p}")


if __name__ == "__main__":
    main()
