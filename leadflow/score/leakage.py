"""Leakage checks that do not trust the ``known_at`` declarations.

A declaration can be wrong: columns that sales fills in after talking to a lead look like lead
attributes. These checks look at the data and the fitted model instead:

- **implausible model**: lead scoring on what is known at capture rarely ranks better than about
  0.9 ROC AUC; a holdout AUC above ``model.leakage.max_auc`` is itself a finding;
- **where the skill comes from**: permutation AUC loss per feature on the holdout (the model is
  not refitted, so it is cheap); the features carrying most of the loss are named, so a finding
  says *which* columns to check, even when no single column separates the classes alone;
- **filled mostly for converted leads**: a column whose *presence* predicts the outcome
  (ROC AUC of "has a value" above ``model.leakage.max_missing_auc``) is typically written by
  sales once the lead is worked;
- **values after capture**: a column holding timestamps later than the lead's capture time in
  more than ``model.leakage.max_after_capture_share`` of rows was recorded after capture.

Every finding is a plain sentence naming the columns; :func:`audit` returns them with a
``flagged`` verdict that training turns into a promotion refusal unless a person confirms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadflow.score.features import FeatureSpec

PERMUTATION_ROWS = 20_000      # the holdout is sampled above this for the permutation pass


@dataclass
class Finding:
    kind: str                   # implausible_auc | permutation | missingness | after_capture
    columns: list[str]
    message: str
    flag: bool = True           # False: context for a flag (importance ranking), not a flag itself


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return any(f.flag for f in self.findings)

    @property
    def columns(self) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            if f.flag:
                out += [c for c in f.columns if c not in out]
        return out

    def messages(self) -> list[str]:
        return [f.message for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "columns": self.columns,
                "findings": [asdict(f) for f in self.findings], "importance": self.importance}


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else 0.5


def permutation_loss(predict: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame,
                     y: np.ndarray, columns: list[str], seed: int = 0) -> dict[str, float]:
    """ROC AUC lost on ``X`` when each column's values are shuffled (the model is not refitted)."""
    rng = np.random.default_rng(seed)
    if len(y) > PERMUTATION_ROWS:
        idx = np.sort(rng.choice(len(y), PERMUTATION_ROWS, replace=False))
        X, y = X.iloc[idx], y[idx]
    base = _auc(y, predict(X))
    out: dict[str, float] = {}
    perm = rng.permutation(len(X))
    for c in columns:
        Xp = X.copy()
        Xp[c] = X[c].to_numpy()[perm]
        out[c] = round(base - _auc(y, predict(Xp)), 4)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def carriers(loss: dict[str, float], share: float = 0.6, min_loss: float = 0.005,
             most: int = 5) -> list[str]:
    """The features that together carry ``share`` of the positive permutation loss."""
    pos = {k: v for k, v in loss.items() if v >= min_loss}
    total = sum(pos.values())
    out: list[str] = []
    acc = 0.0
    for k, v in sorted(pos.items(), key=lambda kv: -kv[1]):
        if acc >= share * total or len(out) >= most:
            break
        out.append(k)
        acc += v
    return out


def peel(refit: Callable[[list[str]], Callable[[pd.DataFrame], np.ndarray]],
         loss: dict[str, float], X: pd.DataFrame, y: np.ndarray, auc: float,
         plausible: float, most: int = 6) -> list[tuple[str, float]]:
    """Drop-column search for an implausible model: remove the column carrying most of the
    (permutation) AUC, refit without it, repeat while the refitted AUC stays above
    ``plausible``. Leaky columns are often redundant with each other (shuffling one leaves the
    others), so one permutation pass names only the strongest; peeling names them all.
    ``refit(columns)`` returns a predict function. Returns (column, holdout AUC after removing
    it) in removal order."""
    cols = [c for c in loss]
    out: list[tuple[str, float]] = []
    while auc > plausible and len(out) < most and len(cols) > 1:
        top = next((c for c in loss if c in cols), None)
        if top is None:
            break
        cols.remove(top)
        predict = refit(cols)
        auc = _auc(y, predict(X[cols]))
        out.append((top, round(auc, 4)))
        loss = permutation_loss(predict, X[cols], y, cols)
    return out


def missingness_auc(X: pd.DataFrame, y: np.ndarray, columns: list[str]) -> dict[str, float]:
    """Per column with some but not all values missing: ROC AUC of "has a value" for the label
    (taken both ways, so 0.5 = presence says nothing)."""
    out: dict[str, float] = {}
    for c in columns:
        v = X[c]
        filled = v.notna() & (v.astype("string").str.strip() != "").fillna(False)
        share = float(filled.mean())
        if not 0.02 < share < 0.98:
            continue
        a = _auc(y, filled.to_numpy(dtype=float))
        out[c] = round(max(a, 1 - a), 4)
    return out


def after_capture_share(X: pd.DataFrame, captured: pd.Series, columns: list[str]) -> dict[str, float]:
    """Per column that reads as timestamps: the share of rows whose value is after capture."""
    cap = pd.to_datetime(captured, errors="coerce", format="mixed")
    out: dict[str, float] = {}
    for c in columns:
        v = X[c]
        if pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
            continue
        nonnull = v.dropna()
        if nonnull.empty:
            continue
        probe = pd.to_datetime(nonnull.head(200).astype(str), errors="coerce", format="mixed")
        if probe.notna().mean() < 0.9:
            continue
        t = pd.to_datetime(v.astype("string"), errors="coerce", format="mixed")
        both = t.notna() & cap.notna()
        if not both.any():
            continue
        out[c] = round(float((t[both] > cap[both] + pd.Timedelta(minutes=1)).mean()), 4)
    return out


def audit(*, specs: list[FeatureSpec], predict: Callable[[pd.DataFrame], np.ndarray],
          X_test: pd.DataFrame, y_test: np.ndarray, X_train: pd.DataFrame, y_train: np.ndarray,
          holdout_auc: float | None, captured: pd.Series | None = None,
          limits: Any = None,
          refit: Callable[[list[str]], Callable[[pd.DataFrame], np.ndarray]] | None = None) -> Audit:
    """All checks for a fitted model. ``captured``: each training row's capture time;
    ``refit(columns)``: the same algorithm fitted on fewer columns (for :func:`peel`)."""
    lim = limits
    max_auc = getattr(lim, "max_auc", 0.95)
    max_miss = getattr(lim, "max_missing_auc", 0.75)
    max_after = getattr(lim, "max_after_capture_share", 0.05)
    cols = [s.name for s in specs if s.name in X_test.columns]
    out = Audit()
    loss = permutation_loss(predict, X_test[cols], y_test, cols) if len(np.unique(y_test)) == 2 \
        else {}
    out.importance = loss
    top = carriers(loss)
    if holdout_auc is not None and holdout_auc > max_auc:
        if refit is not None and loss:
            steps = peel(refit, loss, X_test[cols], y_test, holdout_auc,
                         getattr(lim, "plausible_auc", 0.9))
            top = [c for c, _ in steps] or top
            named = ", ".join(f"{c} (without it AUC {a:.3f})" for c, a in steps)
            rest = [c for c, v in loss.items() if v >= 0.01 and c not in top][:3]
            if named and rest:
                named += "; next largest shares, also worth checking: " + ", ".join(
                    f"{c} (AUC -{loss[c]:.3f} when shuffled)" for c in rest)
        else:
            named = ", ".join(f"{c} (AUC -{loss[c]:.3f} when shuffled)" for c in top)
        named = named or "no single column"
        out.findings.append(Finding(
            "implausible_auc", top,
            f"holdout ROC AUC {holdout_auc:.3f} is implausibly high for lead scoring "
            f"(> {max_auc}); most of it comes from {named}: check whether these columns are "
            "filled in after sales contact"))
    elif top:
        out.findings.append(Finding(
            "permutation", top, "most of the model's ranking comes from "
            + ", ".join(f"{c} (AUC -{loss[c]:.3f} when shuffled)" for c in top), flag=False))
    miss = missingness_auc(X_train[cols], y_train, cols)
    bad = {c: a for c, a in miss.items() if a > max_miss}
    if bad:
        rate = {c: (float(X_train[c][y_train == 1].notna().mean()),
                    float(X_train[c][y_train == 0].notna().mean())) for c in bad}
        out.findings.append(Finding(
            "missingness", sorted(bad, key=lambda c: -bad[c]),
            "whether a value is present predicts the outcome for "
            + ", ".join(f"{c} (filled for {rate[c][0]:.0%} of converted vs {rate[c][1]:.0%} of "
                        f"other leads; AUC {bad[c]:.3f})" for c in sorted(bad, key=lambda c: -bad[c]))
            + ": columns filled mostly for converted leads are usually written after contact"))
    if captured is not None:
        after = after_capture_share(X_train[cols], captured, cols)
        late = {c: s for c, s in after.items() if s > max_after}
        if late:
            out.findings.append(Finding(
                "after_capture", sorted(late),
                "values recorded after the lead's capture time: "
                + ", ".join(f"{c} ({late[c]:.0%} of rows later than capture)" for c in sorted(late))
                + ": they cannot be known when the lead is scored"))
    return out
