"""Validate one frame against its kind's suite with Great Expectations: the row-level split
and the dataset checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from leadflow.errors import ConfigError
from leadflow.quality import engine
from leadflow.quality.engine import Outcome
from leadflow.quality.prepare import prepare
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
    if mapped is None or not check.columns:
        return True
    return all(c in mapped or c in LINEAGE for c in check.columns)


LINEAGE = ("source", "batch_id", "row_number")


def gx_frame(prepared: pd.DataFrame, columns: list[str] | None = None, keyed: bool = True) -> pd.DataFrame:
    """The frame GX sees: some prepared columns, indexed by ``row_key`` (batch id and row
    number in one int64) when the rows come from staging, else by position (``_row``)."""
    cols = [c for c in (columns if columns is not None else prepared.columns) if c in prepared.columns]
    frame = prepared[cols] if cols else pd.DataFrame(index=prepared.index)
    if keyed and "batch_id" in prepared.columns and "row_number" in prepared.columns and len(prepared):
        key = row_keys(prepared["batch_id"], prepared["row_number"])
        return frame.set_axis(pd.Index(key, name="row_key"), axis=0)
    return frame.set_axis(pd.RangeIndex(len(frame), name="_row"), axis=0)


def row_keys(batch_id: Any, row_number: Any) -> np.ndarray:
    """One int64 per staging row (batch id in the high bits): cheap membership tests."""
    return (np.asarray(batch_id, dtype=np.int64) << 32) | np.asarray(row_number, dtype=np.int64)


def _raise_errors(suite: Suite, checks: list[Check], out: dict[str, Outcome]) -> None:
    """An expectation GX could not evaluate (e.g. a column the data lacks) is a config error."""
    for c in checks:
        o = out.get(c.name)
        if o is not None and o.error:
            raise ConfigError(f"{suite.path or suite.kind}: expectation {c.name} ({c.type}) cannot "
                              f"run: {o.error}")


def run_checks(suite: Suite, checks: list[Check], prepared: pd.DataFrame, p: dict[str, Any],
               label: str, docs: list[dict[str, Any]] | None = None, all_columns: bool = False
               ) -> dict[str, Outcome]:
    """GX on ``prepared`` for ``checks`` (only the columns they read, unless ``all_columns``)."""
    if not checks:
        return {}
    cols = None if all_columns else list(dict.fromkeys(c for ch in checks for c in ch.columns))
    # Dataset checks quarantine nothing: positions suffice (their frame's lineage may be stubs).
    keyed = any(c.level == "row" for c in checks)
    out, res = engine.run(label, [c.raw for c in checks], gx_frame(prepared, cols, keyed), p)
    _raise_errors(suite, checks, out)
    if docs is not None and res is not None:
        docs.append({"label": label, "result": engine.docs_result(res, {c.name: c.raw for c in checks})})
    return out


def evaluate(kind: str, df: pd.DataFrame, as_of: datetime | None = None,
             params: dict[str, Any] | None = None, mapped_fields: set[str] | None = None,
             suite: Suite | None = None, precomputed: dict[str, np.ndarray] | None = None,
             dataset: bool = True, scopes: tuple[str, ...] = ("chunk", "source"),
             type_checks: bool = True, label: str | None = None,
             docs: list[dict[str, Any]] | None = None) -> Evaluation:
    """Validate ``df`` with Great Expectations: the rows it fails and why, and the dataset checks.

    ``scopes`` picks the row checks GX runs (``chunk``: per-row rules; ``source``: rules that
    compare rows, e.g. uniqueness); ``precomputed`` gives ready failing masks for some row
    checks by name (the quality step runs the ``source`` ones once over a whole source).
    ``type_checks=False`` prepares only the columns present and leaves out ``<field>_type``.
    ``docs`` collects GX's results (without row values) for the Data Docs.
    """
    suite = suite or load_suite(kind)
    precomputed = precomputed or {}
    p = parameters(suite, as_of, params)
    fields = None if type_checks else [c for c in df.columns if c in suite.fields]
    prepared, type_fails = prepare(suite, df, fields=fields)
    if not type_checks:
        type_fails = {}
    label = label or kind
    skipped = [c.name for c in suite.row_checks if _has_unknown_parameter(c, p)]
    todo = [c for c in suite.row_checks if c.name not in skipped and c.name not in precomputed
            and c.scope in scopes]
    outcomes = run_checks(suite, todo, prepared, p, label, docs)
    n = len(prepared)
    names: list[str] = list(type_fails)
    masks: list[np.ndarray] = list(type_fails.values())
    for check in suite.row_checks:
        if check.name in precomputed:
            names.append(check.name)
            masks.append(np.asarray(precomputed[check.name], dtype=bool))
        elif check.name in outcomes:
            m = np.zeros(n, dtype=bool)
            m[outcomes[check.name].failed] = True
            names.append(check.name)
            masks.append(m)
    matrix = np.column_stack(masks) if masks else np.zeros((n, 0), dtype=bool)
    failed = np.asarray(matrix.any(axis=1)) if masks else np.zeros(n, dtype=bool)
    counts = {nm: int(c) for nm, c in zip(names, matrix.sum(axis=0)) if c}
    sub = matrix[failed]
    r, c = np.nonzero(sub)
    label_arr = np.asarray(names, dtype=object)
    split_at: Any = np.cumsum(np.bincount(r, minlength=len(sub)))[:-1] if len(sub) else []
    reasons = [list(x) for x in np.split(label_arr[c], split_at)] if len(sub) else []
    results: dict[str, dict[str, Any]] = {}
    if dataset:
        ds = dataset_checks(suite, p, mapped_fields, skipped)
        results = dataset_results(ds, run_checks(suite, ds, prepared, p, f"{label}.dataset", docs,
                                                 all_columns=True), p)
    return Evaluation(kind, n, failed, reasons, counts, results, skipped, prepared)


def dataset_results(checks: list[Check], out: dict[str, Outcome], p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dataset checks as ``{"success", "observed", "expected"}`` (the warning's figures)."""
    res = {}
    for c in checks:
        o = out.get(c.name)
        if o is None:
            continue
        kw = {k: (p.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v)
              for k, v in c.kwargs.items()}
        if "min_value" in kw or "max_value" in kw:
            expected = f"{kw.get('min_value')}..{kw.get('max_value')}"
        elif "mostly" in kw:
            expected = f">= {kw['mostly']}"
        else:
            expected = "see Data Docs"
        observed = o.observed
        if observed is None and o.result is not None and o.result.get("unexpected_percent") is not None:
            observed = round(1 - float(o.result["unexpected_percent"]) / 100, 4)
        res[c.name] = {"success": o.success, "observed": observed, "expected": expected}
    return res


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
