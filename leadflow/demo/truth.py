"""Read the demo's hidden truth: who each record really is, and who would really buy.

Used by tests and benchmarks only (identity precision/recall, the model's ceiling AUC, the
demo's expected MQL share); the pipeline never reads ``truth/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Truth:
    people: pd.DataFrame       # one row per true person (truth_person_id, propensity, converted, ...)
    records: pd.DataFrame      # one row per delivered lead row (file, row_number, lead_id, truth_person_id)
    touches: pd.DataFrame      # event_id -> truth_person_id, truth_type, when
    manifest: dict[str, Any]


def _dir(truth_dir: Path | str) -> Path:
    p = Path(truth_dir)
    return p / "truth" if (p / "truth" / "manifest.json").is_file() else p


def load_truth(truth_dir: Path | str) -> Truth:
    """Load ``truth/`` (pass the truth folder or the demo output folder)."""
    d = _dir(truth_dir)
    return Truth(people=pd.read_parquet(d / "people.parquet"),
                 records=pd.read_parquet(d / "records.parquet"),
                 touches=pd.read_parquet(d / "touches.parquet"),
                 manifest=json.loads((d / "manifest.json").read_text(encoding="utf-8")))


def duplicate_pairs(truth_dir: Path | str | Truth, key: str = "lead_id") -> pd.DataFrame:
    """Every unordered pair of delivered records that are the same person: columns a, b (a < b).

    ``key`` names the record identifier: ``lead_id`` (the source record id; exact re-sends share
    one, so they are excluded) or ``row`` (``file#row_number``, every delivered row).
    """
    t = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    r = t.records
    if key == "row":
        ids = r["file"].astype(str) + "#" + r["row_number"].astype(str)
        r = pd.DataFrame({"id": ids, "pid": r["truth_person_id"]})
    else:
        r = pd.DataFrame({"id": r["lead_id"], "pid": r["truth_person_id"]}).drop_duplicates("id")
    multi = r[r.duplicated("pid", keep=False)]
    m = multi.merge(multi, on="pid", suffixes=("_a", "_b"))
    m = m[m["id_a"] < m["id_b"]]
    return pd.DataFrame({"a": m["id_a"].to_numpy(), "b": m["id_b"].to_numpy(),
                         "truth_person_id": m["pid"].to_numpy()}).reset_index(drop=True)


def pair_scores(predicted_pairs: pd.DataFrame, truth_pairs: pd.DataFrame) -> dict[str, float]:
    """Precision and recall of predicted same-person pairs (columns a, b) against the truth."""
    def norm(df: pd.DataFrame) -> set[tuple[str, str]]:
        a, b = df["a"].astype(str).to_numpy(), df["b"].astype(str).to_numpy()
        return set(zip(np.minimum(a, b), np.maximum(a, b)))
    p, t = norm(predicted_pairs), norm(truth_pairs)
    tp = len(p & t)
    return {"precision": tp / len(p) if p else 1.0, "recall": tp / len(t) if t else 1.0,
            "predicted": len(p), "true": len(t), "true_positives": tp}


def email_keys(emails: pd.Series) -> pd.Series:
    """Lower-cased, trimmed, +tag removed, and dots removed for Gmail: one key per mailbox."""
    e = emails.astype("str").str.strip().str.lower()
    local, dom = e.str.split("@", n=1).str[0], e.str.split("@", n=1).str[1]
    local = local.str.replace(r"\+.*$", "", regex=True)
    gmail = dom.isin(["gmail.com", "googlemail.com"])
    local = local.where(~gmail, local.str.replace(".", "", regex=False))
    return local + "@" + dom


def person_of_email(truth_dir: Path | str | Truth) -> pd.Series:
    """E-mail -> truth_person_id, for every delivered address, in as-delivered (lower-cased) and
    mailbox-normalised forms, so a warehouse's normalised e-mail finds its true person."""
    t = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    e = pd.concat([t.records[["email", "truth_person_id"]], t.people[["email", "truth_person_id"]]])
    e = e.dropna(subset=["email"])
    e = e[e["email"].astype("str").str.count("@") == 1]
    plain = e["email"].astype("str").str.strip().str.lower()
    both = pd.concat([pd.DataFrame({"k": plain, "p": e["truth_person_id"]}),
                      pd.DataFrame({"k": email_keys(e["email"]), "p": e["truth_person_id"]})])
    return both.drop_duplicates("k").set_index("k")["p"]


def true_auc(truth_dir: Path | str | Truth, person_ids: Any = None, emails: Any = None,
             label: str = "converted") -> float:
    """ROC AUC of the generator's own propensity on the true labels: the ceiling a model can reach.

    Restrict to a population with ``person_ids`` (truth ids) or ``emails`` (as delivered, e.g. the
    handed-off people) — the ceiling depends on who is being ranked.
    """
    from sklearn.metrics import roc_auc_score
    t = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    p = t.people
    if emails is not None:
        m = person_of_email(t)
        ids = pd.Series(list(emails), dtype="str").str.strip().str.lower().map(m).dropna().unique()
        p = p[p["truth_person_id"].isin(ids)]
    if person_ids is not None:
        p = p[p["truth_person_id"].isin(list(person_ids))]
    y = p[label].to_numpy(bool)
    if y.all() or not y.any():
        raise ValueError("true_auc needs both classes in the population")
    return float(roc_auc_score(y, p["propensity"].to_numpy()))
