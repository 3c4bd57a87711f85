"""Fit scoring from ``scoring.fit_rules``: points per matching rule, summed, then a grade A-D.

Each rule is evaluated as one vectorised mask over the people frame, so a million leads cost a
few column comparisons per rule. The per-rule points are kept (one column per rule) because they
are also the raw material of the reasons a rep reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import FitRule, Scoring

GRADES = ("A", "B", "C", "D")


def _as_text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.lower()


def _text_test(col: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``test`` on the lower-cased text of each distinct value, spread to the rows (a million
    leads hold a few hundred distinct titles: compare those, not a million strings)."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    hit = test(_as_text(pd.Series(uniq, dtype=object))).fillna(False).to_numpy(dtype=bool)
    return np.append(hit, False)[codes]


def _norm(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def rule_mask(df: pd.DataFrame, rule: FitRule) -> np.ndarray:
    """Rows the rule matches (a missing column matches nothing, unless ``is_null: true``)."""
    n = len(df)
    if rule.field not in df.columns:
        return np.full(n, bool(rule.is_null), dtype=bool)
    col = df[rule.field]
    mask = np.ones(n, dtype=bool)
    present = col.notna().to_numpy()
    if rule.is_null is not None:
        mask &= ~present if rule.is_null else present
    if rule.equals is not None:
        mask &= present & _eq(col, [rule.equals])
    if rule.is_in is not None:
        mask &= present & _eq(col, rule.is_in)
    if rule.contains is not None:
        needle = rule.contains.lower()
        mask &= _text_test(col, lambda t: t.str.contains(needle, regex=False))
    if rule.min is not None or rule.max is not None:
        num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(num)
        if rule.min is not None:
            ok &= num >= rule.min
        if rule.max is not None:
            ok &= num <= rule.max
        mask &= ok
    return mask


def _eq(col: pd.Series, values: list[Any]) -> np.ndarray:
    """Case-insensitive membership for text, exact for booleans and numbers."""
    if all(isinstance(v, bool) for v in values):
        b = col.astype("boolean")
        return b.isin(values).fillna(False).to_numpy(dtype=bool)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        num = pd.to_numeric(col, errors="coerce")
        return num.isin(values).to_numpy(dtype=bool)
    wanted = [str(_norm(v)) for v in values]
    return _text_test(col, lambda t: t.isin(wanted))


def fit_contributions(df: pd.DataFrame, scoring: Scoring) -> pd.DataFrame:
    """One column per rule (``fit_<i>``) holding the points it gave each row (0 if no match)."""
    out = {f"fit_{i}": np.where(rule_mask(df, r), float(r.points), 0.0)
           for i, r in enumerate(scoring.fit_rules)}
    return pd.DataFrame(out, index=df.index)


def grade(fit_points: pd.Series | np.ndarray, scoring: Scoring) -> np.ndarray:
    """A/B/C by minimum fit points from config, D otherwise."""
    pts = np.asarray(fit_points, dtype=float)
    g = scoring.grades
    return np.select([pts >= g["A"], pts >= g["B"], pts >= g["C"]], ["A", "B", "C"], default="D")


def total_score(fit_points: np.ndarray, engagement_points: np.ndarray, scoring: Scoring) -> np.ndarray:
    """The 0-100 rule score: fit plus engagement (or engagement alone), clipped."""
    raw = engagement_points if scoring.score_from == "engagement" else fit_points + engagement_points
    return np.clip(np.round(np.asarray(raw, dtype=float), 1), 0.0, scoring.max_score)


def label(grade_: str, score: float) -> str:
    """How a rep reads a rule score: 'B / 72'."""
    return f"{grade_} / {score:.0f}"
