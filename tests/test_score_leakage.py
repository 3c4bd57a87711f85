"""Leakage caught however it is declared: in combination, in time, by missingness; and the
promotion gate that refuses a flagged model unless a person confirms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow import config as cfg
from leadflow.score import leakage, registry
from leadflow.score.offline import evaluate_file
from leadflow.store.schema import models, people
from tests import score_helpers as H

ROOT = Path(__file__).resolve().parents[1]


def _file_settings(tmp_path: Path, attributes: dict[str, str]) -> cfg.Settings:
    doc = {"sources": [{"name": "f", "owner": "ops", "kind": "inbound_leads",
                        "connector": {"type": "file", "path": "landing"},
                        "mapping": {"id": "source_record_id", "created": "created_at",
                                    "won": "converted"},
                        "attributes": attributes}],
           "paths": {"reports_dir": str(tmp_path / "reports")}}
    from tests.conftest import write_config
    return cfg.load(write_config(tmp_path / "leadflow.yaml", doc))


def _leads(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h")
    ind = rng.choice(["software", "retail", "finance"], n)
    visits = rng.poisson(3, n)
    z = -1 + 1.2 * (ind == "software") + 0.2 * visits
    won = rng.random(n) < 1 / (1 + np.exp(-z))
    return pd.DataFrame({"id": [f"L{i}" for i in range(n)], "created": created.astype(str),
                         "segment": ind, "visits": visits, "won": np.where(won, "yes", "no")})


def test_timestamp_recorded_after_capture_is_flagged(tmp_path):
    df = _leads(3000)
    rng = np.random.default_rng(1)
    # a "lead attribute" that is really a sales timestamp: always days after capture, and it
    # carries no label signal at all, so only the time check can see it
    df["last_contacted"] = (pd.to_datetime(df["created"])
                            + pd.to_timedelta(rng.integers(1, 30, len(df)), unit="D")).astype(str)
    path = tmp_path / "leads.csv"
    df.to_csv(path, index=False)
    s = _file_settings(tmp_path, {"segment": "capture", "visits": "capture",
                                  "last_contacted": "capture"})
    res = evaluate_file(s, "f", path, algorithms=["logistic"])
    kinds = {f["kind"]: f for f in res["leakage"]["findings"]}
    assert "after_capture" in kinds and kinds["after_capture"]["columns"] == ["last_contacted"]
    assert any("last_contacted" in w and "after the lead's capture" in w for w in res["warnings"])
    clean = evaluate_file(s.model_copy(), "f", path, algorithms=["logistic"],
                          features=["segment", "visits"])
    assert not clean["leakage"]["flagged"], clean["leakage"]


def test_missingness_that_predicts_the_label_is_flagged(tmp_path):
    df = _leads(3000, seed=2)
    rng = np.random.default_rng(3)
    won = df["won"].eq("yes").to_numpy()
    filled = np.where(won, rng.random(len(df)) < 0.85, rng.random(len(df)) < 0.1)
    df["budget_note"] = np.where(filled, rng.choice(["ok", "tight", "n/a"], len(df)), None)
    path = tmp_path / "leads.csv"
    df.to_csv(path, index=False)
    s = _file_settings(tmp_path, {"segment": "capture", "visits": "capture",
                                  "budget_note": "capture"})
    res = evaluate_file(s, "f", path, algorithms=["logistic"])
    miss = [f for f in res["leakage"]["findings"] if f["kind"] == "missingness"]
    assert miss and miss[0]["columns"] == ["budget_note"]
    assert any("budget_note" in w and "converted" in w for w in res["warnings"])


def test_peel_names_redundant_leaks_that_permutation_alone_misses():
    """Two copies of the label signal: shuffling one leaves the other, so a single permutation
    pass shows almost no loss for the second; peeling (refit without the first) names both."""
    rng = np.random.default_rng(0)
    n = 4000
    y = (rng.random(n) < 0.4).astype(int)
    X = pd.DataFrame({"a": y + rng.normal(0, 0.3, n), "b": y + rng.normal(0, 0.3, n),
                      "honest": y * 0.3 + rng.normal(0, 1, n)})
    from sklearn.linear_model import LogisticRegression

    def refit(cols):
        m = LogisticRegression().fit(X[cols].iloc[:2000], y[:2000])
        return lambda Z: m.predict_proba(Z[cols])[:, 1]
    full = refit(["a", "b", "honest"])
    loss = leakage.permutation_loss(full, X.iloc[2000:], y[2000:], ["a", "b", "honest"])
    steps = leakage.peel(refit, loss, X.iloc[2000:], y[2000:], 0.99, plausible=0.9)
    assert {c for c, _ in steps} == {"a", "b"}
    assert steps[-1][1] < 0.9


@pytest.mark.realdata
def test_x_education_leaky_columns_declared_capture_are_named(shared_data):
    s = cfg.load(ROOT / "examples" / "real_data.yaml")
    src = [x for x in s.sources if "x_education" in x.name][0]
    for c in ("Tags", "Lead Quality", "Last Activity"):
        src.attributes[c] = "capture"                 # the easy mistake a new user makes
    res = evaluate_file(s, src.name, shared_data / "x_education" / "Leads.csv",
                        algorithms=["gradient_boosting"])
    assert res["leakage"]["flagged"]
    warn = [w for w in res["warnings"] if w.startswith("leakage:")]
    assert warn, res["warnings"]
    for c in ("Tags", "Lead Quality", "Last Activity"):
        assert c in warn[0], warn[0]
    assert {"Tags", "Lead Quality"} <= set(res["leakage"]["columns"])


def _leaky_warehouse(engine) -> None:
    out = H.populate(engine, n=1200)
    y = out["y"]
    ids = out["people"]["person_id"].to_numpy()
    with engine.begin() as c:
        for flag, note in ((True, "keen, sent proposal"), (False, "no answer")):
            sel = [int(i) for i in ids[y == flag]]
            c.execute(people.update().where(people.c.person_id.in_(sel)).values(
                attributes={"plan_interest": "team", "call_notes": note}))


def test_flagged_model_is_not_promoted_without_confirmation(engine, make_ctx):
    from leadflow.score import train_model
    _leaky_warehouse(engine)
    doc = H.config(algorithms=["logistic"])
    doc["sources"][0]["attributes"]["call_notes"] = "capture"      # wrongly declared
    ctx = make_ctx(doc, engine)
    out = train_model(ctx)
    assert out["status"] == "refused", out["message"]
    assert "call_notes" in out["message"]
    assert any("leakage" in w and "call_notes" in w for w in out["warnings"])
    assert registry.current(engine) is None
    row = registry.get(engine, out["version"])
    rec = registry._as_dict(row["leakage"])
    assert rec["decision"] == "refused" and "call_notes" in rec["columns"]
    with pytest.raises(registry.LeakageRefused, match="confirm-leakage"):
        registry.promote(engine, out["version"])
    again = train_model(ctx, confirm_leakage="Ana Lopez")
    assert again["status"] == "promoted" and again["version"] == out["version"]
    rec = registry._as_dict(registry.get(engine, out["version"])["leakage"])
    assert rec["decision"] == "confirmed" and rec["confirmed_by"] == "Ana Lopez"
    with engine.connect() as c:
        assert c.execute(sa.select(models.c.status)).scalar_one() == "promoted"


def test_honest_model_is_clear_and_promoted(engine, make_ctx):
    from leadflow.score import train_model
    H.populate(engine, n=1200)
    out = train_model(make_ctx(H.config(algorithms=["logistic"]), engine))
    assert out["status"] == "promoted", out["message"]
    assert registry._as_dict(registry.get(engine, out["version"])["leakage"])["decision"] == "clear"
