"""`leadflow model ...` through the real CLI entry point (in-process)."""

from __future__ import annotations

from leadflow.cli import main
from tests import score_helpers as H
from tests.conftest import write_config


def test_model_cli_train_list_promote(engine, make_ctx, tmp_path, capsys):
    ctx = make_ctx(H.config(algorithms=["logistic"]), engine)   # sets LEADFLOW_DATABASE_URL
    cfg_path = str(ctx.settings.config_path)
    assert main(["model", "list", "-c", cfg_path]) == 0
    assert "no models yet" in capsys.readouterr().out
    assert main(["model", "train", "-c", cfg_path, "--date", "2026-11-26"]) == 0
    assert "rules only: 0 conversions < 50" in capsys.readouterr().out
    H.populate(engine, n=800)
    assert main(["model", "train", "-c", cfg_path, "--date", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    assert "promoted logistic-" in out
    assert main(["model", "list", "-c", cfg_path]) == 0
    assert "promoted" in capsys.readouterr().out
    assert main(["model", "promote", "nope", "-c", cfg_path]) == 2
    assert "no model version 'nope'" in capsys.readouterr().err


def test_model_evaluate_writes_html_report(tmp_path, capsys):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    n = 1500
    plan = rng.choice(["gold", "silver", "bronze"], n)
    visits = rng.poisson(3, n)
    z = -1 + 1.5 * (plan == "gold") + 0.3 * visits
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    notes = np.where(y, "signed", "no answer")        # recorded after the call: leaky
    land = tmp_path / "landing"
    land.mkdir()
    won = np.where(y, "yes", "no").astype(object)
    won[:7] = ""                                      # still open
    pd.DataFrame({"id": range(n), "Plan": plan, "Visits": visits, "Notes": notes,
                  "Won": won}).to_csv(land / "leads.csv", index=False)
    doc = {"paths": {"reports_dir": "reports"}, "sources": [{
        "name": "trial", "owner": "ops", "kind": "inbound_leads",
        "connector": {"type": "file", "path": "landing", "min_age_seconds": 0, "archive": False},
        "mapping": {"id": "source_record_id", "Won": "converted"},
        "attributes": {"Plan": "capture", "Visits": "capture", "Notes": "after_contact"}}]}
    p = str(write_config(tmp_path / "leadflow.yaml", doc))
    assert main(["model", "evaluate", "-c", p, "--source", "trial", "--data",
                 str(land / "leads.csv"), "--algorithm", "logistic"]) == 0
    out = capsys.readouterr().out
    assert "excluded (known only after sales contact): Notes" in out
    assert "left out: 7 rows without an outcome yet, 0 with an unreadable one" in out
    html = next((tmp_path / "reports").glob("model-evaluation-trial-*.html")).read_text()
    assert "data:image/png;base64," in html and "Calibration" in html and "Lift" in html
    assert main(["model", "evaluate", "-c", p, "--source", "trial", "--data",
                 str(land / "leads.csv"), "--algorithm", "logistic", "--allow-leaky"]) == 0
    out = capsys.readouterr().out
    assert "after-contact feature(s) included: Notes" in out
    assert "Notes alone separates the classes" in out
    assert main(["model", "evaluate", "-c", p, "--source", "trial", "--data",
                 str(land / "leads.csv"), "--feature", "Notes"]) == 2
    assert "refusing to train" in capsys.readouterr().err


def test_model_cli_monitor_and_status(engine, make_ctx, capsys):
    ctx = make_ctx(H.config(algorithms=["logistic"]), engine)
    cfg_path = str(ctx.settings.config_path)
    assert main(["model", "monitor", "-c", cfg_path, "--date", "2026-08-03"]) == 0
    assert "no live model" in capsys.readouterr().out
    H.populate(engine, n=800)
    assert main(["model", "train", "-c", cfg_path, "--date", "2026-11-26"]) == 0
    capsys.readouterr()
    assert main(["model", "monitor", "-c", cfg_path, "--date", "2026-08-03"]) == 0
    out = capsys.readouterr().out
    assert "week from 2026-07-27" in out and "no alerts" in out
    assert main(["model", "status", "-c", cfg_path]) == 0
    out = capsys.readouterr().out
    assert "live model logistic-" in out and "leakage review: clear" in out and "2026-07-27" in out
    assert main(["model", "list", "-c", cfg_path]) == 0
    assert "clear" in capsys.readouterr().out

