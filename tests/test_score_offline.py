"""`model evaluate` on a file the project did not write: every row is accounted for, and an
outcome column nobody can read is named, not mistaken for a missing mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadflow import config as cfg
from leadflow.errors import InputError
from leadflow.score.offline import evaluate_file
from tests.conftest import write_config


def _settings(tmp_path: Path) -> cfg.Settings:
    doc = {"sources": [{"name": "f", "owner": "ops", "kind": "inbound_leads",
                        "connector": {"type": "file", "path": "landing"},
                        "mapping": {"id": "source_record_id", "email": "email", "Won?": "converted"},
                        "attributes": {"segment": "capture", "visits": "capture"}}],
           "paths": {"reports_dir": str(tmp_path / "reports")}}
    return cfg.load(write_config(tmp_path / "leadflow.yaml", doc))


def _leads(n: int, outcome: np.ndarray, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"L{i}" for i in range(n)],
                         "email": [f"ann.lee{i}@example.org" for i in range(n)],
                         "segment": rng.choice(["software", "retail", "finance"], n),
                         "visits": rng.poisson(3, n), "Won?": outcome})


def test_rows_whose_outcome_cannot_be_read_are_counted_not_dropped_silently(tmp_path):
    n = 2000
    rng = np.random.default_rng(1)
    won = rng.random(n) < 0.3
    outcome = np.where(won, "yes", "no").astype(object)
    outcome[:120] = "closed won"          # a CRM word the yes/no vocabulary does not hold
    outcome[120:200] = ""                 # still open: no outcome yet
    path = tmp_path / "leads.csv"
    _leads(n, outcome).to_csv(path, index=False)
    res = evaluate_file(_settings(tmp_path), "f", path, algorithms=["logistic"])
    assert res["rows"] == n - 200
    assert res["left_out"] == {"outcome_unreadable": 120, "outcome_missing": 80}
    msg = [w for w in res["warnings"] if "120 rows" in w]
    assert msg, res["warnings"]
    assert "Won?" in msg[0] and "value_maps" in msg[0] and "data row 1, 2," in msg[0]
    assert not any("@" in w for w in res["warnings"])           # no address in the message


def test_an_outcome_column_with_no_yes_no_value_is_named(tmp_path):
    n = 300
    path = tmp_path / "leads.csv"
    _leads(n, np.where(np.arange(n) % 3 == 0, "Won", "Lost")).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"(?s)Won\?.*none of its 300 values reads as yes or no.*value_maps"):
        evaluate_file(_settings(tmp_path), "f", path, algorithms=["logistic"])


def test_a_file_without_an_outcome_column_says_so(tmp_path):
    path = tmp_path / "leads.csv"
    _leads(300, np.array(["yes", "no"] * 150)).drop(columns=["Won?"]).to_csv(path, index=False)
    doc_settings = _settings(tmp_path)
    src = doc_settings.source("f")
    src.mapping.pop("Won?")
    with pytest.raises(InputError, match="no outcome column mapped"):
        evaluate_file(doc_settings, "f", path, algorithms=["logistic"])
