"""Validate one frame against its kind's suite: the row-level split and the dataset checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from leadflow.quality import translate
from leadflow.quality.suites import Check, Suite, load_suite


@dataclass
class Evaluation:
    """What a suite found in one frame (positions refer to the frame's rows, in order)."""

    kind: str
    rows: int
    failed: np.ndarray                              # bool per row: failed any row check
    reasons: list[list[str]]                        # for each failed row (in order), names
    counts: dict[str, int]                          # failing rows per expectation name
    dataset: dict[str, dict[str, Any]]              # dataset check name -> result
    skipped: list[str] = field(default_factory=list)  # checks without parameter values
    prepared: pd.DataFrame | None = None

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    def top(self) -> tuple[str, int] | None:
        """The expectation that failed the most rows."""
        if not self.counts:
            return None
        name = max(self.counts, key=lambda k: (self.counts[k], k))
        return name, self.counts[name]


def parameters(suite: Suite, as_of: datetime | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Suite defaults, the run's logical time, and caller-supplied values (None = unknown)."""
    params: dict[str, Any] = dict(suite.parameters)
    runtime = (suite.raw.get("meta", {}).get("leadflow", {}) or {}).get("runtime_parameters", [])
    params.update({k: None for k in runtime if k not in params})
    params["as_of"] = as_of
    params.update(extra or {})
    return params


def _has_unknown_parameter(check: Check, params: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) and "$PARAMETER" in v and params.get(v["$PARAMETER"]) is None
               for v in check.kwargs.values())


def _applicable_dataset(check: Check, mapped: set[str] | None) -> bool:
    """Missing-share checks only apply to fields the source maps (else they always fail)."""
    if mapped is None or check.type == "expect_table_row_count_to_be_between":
        return True
    return all(c in mapped for c in check.columns)


def evaluate(kind: str, df: pd.DataFrame, as_of: datetime | None = None,
             params: dict[str, Any] | None = None, mapped_fields: set[str] | None = None,
             suite: Suite | None = None, precomputed: dict[str, np.ndarray] | None = None,
             dataset: bool = True) -> Evaluation:
    """Run every row check (vectorised translators) and every dataset check on ``df``.

    ``precomputed`` gives ready failing masks for some row checks (by name) — the quality step
    reads a source in chunks and evaluates the checks that compare rows with each other (unique
    keys) once over the whole source. ``dataset=False`` leaves the dataset checks out (the step
    sums their counts over the chunks instead).
    """
    suite = suite or load_suite(kind)
    precomputed = precomputed or {}
    p = parameters(suite, as_of, params)
    prepared, type_fails = translate.prepare(suite, df)
    names: list[str] = []
    masks: list[np.ndarray] = []
    skipped: list[str] = []
    for name, m in type_fails.items():
        names.append(name)
        masks.append(m)
    for check in suite.row_checks:
        if _has_unknown_parameter(check, p):
            skipped.append(check.name)
            continue
        names.append(check.name)
        pre = precomputed.get(check.name)
        masks.append(pre if pre is not None else translate.unexpected(check, prepared, p))
    n = len(prepared)
    matrix = np.column_stack(masks) if masks else np.zeros((n, 0), dtype=bool)
    failed = np.asarray(matrix.any(axis=1)) if masks else np.zeros(n, dtype=bool)
    counts = {nm: int(c) for nm, c in zip(names, matrix.sum(axis=0)) if c}
    sub = matrix[failed]
    r, c = np.nonzero(sub)
    label = np.asarray(names, dtype=object)
    split_at: Any = np.cumsum(np.bincount(r, minlength=len(sub)))[:-1] if len(sub) else []
    reasons = [list(x) for x in np.split(label[c], split_at)] if len(sub) else []
    results: dict[str, dict[str, Any]] = {}
    for check in dataset_checks(suite, p, mapped_fields, skipped) if dataset else ():
        results[check.name] = translate.dataset_result(check, prepared, p)
    return Evaluation(kind, n, failed, reasons, counts, results, skipped, prepared)


def dataset_checks(suite: Suite, p: dict[str, Any], mapped_fields: set[str] | None,
                   skipped: list[str] | None = None) -> list[Check]:
    """The suite's dataset checks that apply (known parameters, mapped fields); notes the rest."""
    out = []
    for check in suite.dataset_checks:
        if _has_unknown_parameter(check, p) or not _applicable_dataset(check, mapped_fields):
            if skipped is not None:
                skipped.append(check.name)
            continue
        out.append(check)
    return out


def validate_frame(kind: str, df: pd.DataFrame, as_of: datetime | None = None,
                   params: dict[str, Any] | None = None, mapped_fields: set[str] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into the rows that pass the kind's suite and those that fail.

    ``as_of`` is the run's logical now (timestamps after it fail); ``params`` supplies other
    ``$PARAMETER`` values (e.g. ``known_campaign_ids``; a check whose parameter is unknown is
    skipped). The failed frame carries a ``reasons`` column: the names of every expectation
    the row failed. Both frames keep the original (unprepared) values and index.
    """
    ev = evaluate(kind, df, as_of, params, mapped_fields)
    passed = df[~ev.failed]
    failed = df[ev.failed].copy()
    failed["reasons"] = pd.Series(ev.reasons, index=failed.index, dtype=object)
    return passed, failed
