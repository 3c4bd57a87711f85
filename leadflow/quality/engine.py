"""Great Expectations decides: validate a prepared frame with GX and read back the failing rows.

One ephemeral GX context per process, a pandas datasource, and one cached validation
definition per (suite, set of expectations). Each run asks for ``result_format`` COMPLETE with
``unexpected_index_column_names`` = the frame's named index: ``row_key`` (batch id in the high
32 bits, row number in the low ones) for staging rows, ``_row`` (position) for other frames.
``exclude_unexpected_values`` keeps values (PII) out of the results and makes GX return the
failing keys as one list per expectation — measured: listing keys per row with the values
costs GX a Python ``.at`` per failing row and column, ten times the validation itself.

Which expectation is what (decided from GX's own class, so any type GX knows works):

- ``row``/chunk: a map expectation whose verdict for a row depends on that row only
  (``ROW_LOCAL``) — it runs on each chunk of a source;
- ``row``/source: any other map expectation (uniqueness, z-scores, ...) — it runs once on the
  source's rows (only the columns it reads);
- ``dataset``: everything else (row counts, column sets, means) — once per source, yields a
  warning, never quarantines rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("leadflow.quality")

#: Map expectation types whose verdict for a row reads only that row (safe to run per chunk).
#: Any other map expectation runs over the whole source (correct for every type, slower).
ROW_LOCAL = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_regex_list", "expect_column_values_to_not_match_regex_list",
    "expect_column_values_to_match_like_pattern", "expect_column_values_to_not_match_like_pattern",
    "expect_column_values_to_match_like_pattern_list",
    "expect_column_values_to_not_match_like_pattern_list",
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal", "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_be_dateutil_parseable", "expect_column_values_to_be_json_parseable",
    "expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type",
    "expect_column_pair_values_to_be_equal", "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_in_set", "expect_multicolumn_sum_to_equal",
    "expect_select_column_values_to_be_unique_within_record",
    "expect_column_values_to_be_deliverable_email", "expect_column_values_to_not_be_in_the_future",
})
#: Result keys that carry row values or keys: dropped before results are kept for Data Docs.
ROW_LEVEL_RESULT_KEYS = ("unexpected_list", "partial_unexpected_list", "partial_unexpected_counts",
                         "unexpected_index_list", "partial_unexpected_index_list",
                         "unexpected_index_query", "details")

_STATE: dict[str, Any] = {}
#: GX is not thread-safe (shared parsers, caches, our cached context): one GX call at a time per
#: process. Concurrent runs in threads (tests, a CLI beside a scheduler) serialise here.
LOCK = threading.RLock()


def gx() -> Any:
    """The ``great_expectations`` module with leadflow's custom expectations registered."""
    with LOCK:
        return _gx()


def _gx() -> Any:
    if "gx" not in _STATE:
        import great_expectations as gx_mod
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        import leadflow.quality.custom  # noqa: F401 - registers the custom expectation types
        _STATE["gx"] = gx_mod
    return _STATE["gx"]


def context() -> Any:
    """This process's ephemeral GX context (progress bars off) and its pandas datasource."""
    with LOCK:
        return _context()


def _context() -> Any:
    if "context" not in _STATE:
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine as pee
        # GX fingerprints every pandas batch (a hash of all values, ~1 s per million rows) as a
        # marker for its stores; leadflow keys rows by ``row_key`` and keeps no GX stores.
        pee.HASH_THRESHOLD = 0
        ctx = gx().get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        _STATE["context"] = ctx
        _STATE["datasource"] = ctx.data_sources.add_pandas("leadflow")
        _STATE["vds"] = {}
    return _STATE["context"]


# ----------------------------------------------------------------------------- load-time checks
@dataclass(frozen=True)
class Kind:
    """What GX's class says about an expectation: its level and where it can run."""

    level: str          # "row" (quarantines rows) or "dataset" (a warning)
    scope: str          # "chunk", "source" (row level) or "dataset"


def inspect(cfg: dict[str, Any]) -> Kind:
    """Build the expectation with GX (type known? arguments valid?); raise ``ValueError`` with
    GX's one-line reason if not. Returns its level and scope."""
    with LOCK:
        return _inspect(cfg)


def _inspect(cfg: dict[str, Any]) -> Kind:
    gx()
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    typ = cfg.get("type")
    if not isinstance(typ, str) or not typ:
        raise ValueError("no expectation type")
    try:
        conf = ExpectationConfiguration(type=typ, kwargs=dict(cfg.get("kwargs") or {}),
                                        meta=dict(cfg.get("meta") or {}))
        exp = conf.to_domain_obj()
    except Exception as e:  # noqa: BLE001 - GX raises several types; all mean "invalid config"
        raise ValueError(_one_line(e)) from None
    if isinstance(exp, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)):
        return Kind("row", "chunk" if typ in ROW_LOCAL else "source")
    return Kind("dataset", "dataset")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if "ExpectationNotFound" in type(e).__name__ or "not found" in text.lower():
        return f"unknown expectation type ({text[:200]})"
    return text[:300]


# ----------------------------------------------------------------------------- validation
@dataclass
class Outcome:
    """One expectation's result on one frame (positions index the frame's rows)."""

    success: bool
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unexpected_count: int = 0
    observed: Any = None
    error: str | None = None
    result: dict[str, Any] | None = None


def gx_parameters(checks: list[dict[str, Any]], frame: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """``$PARAMETER`` values as GX takes them. Big value sets (keys already loaded, known
    campaigns) shrink to the values present in the frame: same verdicts, small results."""
    used = {v["$PARAMETER"] for c in checks for v in (c.get("kwargs") or {}).values()
            if isinstance(v, dict) and "$PARAMETER" in v}
    out: dict[str, Any] = {}
    present: dict[str, set[Any]] = {}     # value sets: only the values present in the frame
    for c in checks:
        kw = c.get("kwargs") or {}
        vs, col = kw.get("value_set"), kw.get("column")
        if isinstance(vs, dict) and "$PARAMETER" in vs and params.get(vs["$PARAMETER"]) is not None:
            seen = frame[col].dropna().tolist() if col in frame.columns else params[vs["$PARAMETER"]]
            present.setdefault(vs["$PARAMETER"], set()).update(seen)
    for name, vals in present.items():    # (a set shared by several checks: their union)
        out[name] = sorted(vals & set(params[name]), key=str)
    for k in used - set(out):
        v = params.get(k)
        if v is not None:
            out[k] = sorted(v, key=str) if isinstance(v, (set, frozenset)) else v
    return out


def _definition(exps: list[dict[str, Any]]) -> Any:
    """A cached validation definition for these expectations (reused by every chunk and run of
    this process; the results are labelled by the caller)."""
    ctx = context()
    key = hashlib.sha1(json.dumps(exps, sort_keys=True, default=str).encode()).hexdigest()[:16]
    vds = _STATE["vds"]
    if key not in vds:
        name = f"leadflow.{key}"
        asset = _STATE["datasource"].add_dataframe_asset(name)
        bd = asset.add_batch_definition_whole_dataframe(name)
        suite = ctx.suites.add(gx().ExpectationSuite(name=name, expectations=[dict(x) for x in exps]))
        vds[key] = ctx.validation_definitions.add(gx().ValidationDefinition(name=name, data=bd, suite=suite))
    return vds[key]


def run(label: str, exps: list[dict[str, Any]], frame: pd.DataFrame, params: dict[str, Any]
        ) -> tuple[dict[str, Outcome], Any]:
    """Validate ``frame`` (its index named ``row_key`` or ``_row``) against ``exps`` (GX JSON
    expectations, each with ``meta.name``). Returns name -> ``Outcome`` and GX's result, whose
    suite name becomes ``label`` (the Data Docs page title)."""
    if not exps:
        return {}, None
    with LOCK:
        return _run(label, exps, frame, params)


def _run(label: str, exps: list[dict[str, Any]], frame: pd.DataFrame, params: dict[str, Any]
         ) -> tuple[dict[str, Outcome], Any]:
    index_name = frame.index.name or "_row"
    if frame.index.name is None:
        frame = frame.set_axis(pd.RangeIndex(len(frame), name="_row"), axis=0)
    vd = _definition(exps)
    fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": [index_name],
           "exclude_unexpected_values": True, "return_unexpected_index_query": False}
    try:
        res = _validate(vd, frame, gx_parameters(exps, frame, params), fmt)
    finally:
        _release_batches()
    res.suite_name = label
    keys = frame.index
    out: dict[str, Outcome] = {}
    for r in res.results:
        cfg = r.expectation_config
        name = str((cfg.meta or {}).get("name") if cfg is not None else "?")
        err = _error(r.exception_info)
        if err:
            out[name] = Outcome(False, error=err)
            continue
        result = r.result or {}
        failed = _positions(result.get("unexpected_index_list"), index_name, keys)
        for k in ROW_LEVEL_RESULT_KEYS:        # read: keys (and any values) leave the result
            result.pop(k, None)
        out[name] = Outcome(bool(r.success), failed, int(result.get("unexpected_count") or len(failed)),
                            result.get("observed_value"), None, dict(result))
    return out, res


def _validate(vd: Any, frame: pd.DataFrame, params: dict[str, Any], fmt: dict[str, Any]) -> Any:
    """GX's validator on the definition's batch and suite: what ``ValidationDefinition.run``
    does, without storing the result in the context's results store, which leadflow never
    reads (measured: serialising every result there, row keys included, was a quarter of
    GX's time at 1M rows, and the in-memory store kept them all)."""
    from datetime import datetime

    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.core.validation_definition import DATAFRAME_REPLACEMENT_STR
    from great_expectations.validator.v1_validator import Validator
    validator = Validator(batch_definition=vd.batch_definition, batch_parameters={"dataframe": frame},
                          result_format=fmt)
    res = validator.validate_expectation_suite(vd.suite, params)
    run_id = RunIdentifier(run_time=datetime.now(UTC))       # the meta GX's run sets
    res.meta.update({"validation_id": vd.id, "checkpoint_id": None, "run_id": run_id,
                     "validation_time": run_id.run_time,
                     "batch_parameters": {"dataframe": DATAFRAME_REPLACEMENT_STR}})
    return res


def _release_batches() -> None:
    """Drop the batches GX's pandas engine keeps after a run. It caches every batch it loaded
    (one per chunk here), so memory grew by a chunk per run: measured 2.3 GiB at 1M rows."""
    engine_ = _STATE["datasource"].get_execution_engine()
    bm = engine_.batch_manager
    bm.reset_batch_cache()
    bm.batch_data_cache.clear()                          # the dict itself (a property over it)
    bm._active_batch_data_id = None                      # no public reset for the data cache


def _error(info: Any) -> str | None:
    """GX's exception message, if the expectation could not be evaluated."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return " ".join(str(info.get("exception_message")).split())[:300] if info["raised_exception"] else None
    for v in (info.values() if isinstance(info, dict) else []):
        msg = _error(v if isinstance(v, dict) else getattr(v, "to_json_dict", lambda: {})())
        if msg:
            return msg
    return None


def _positions(index_list: Any, index_name: str, keys: pd.Index) -> np.ndarray:
    """Frame positions of the rows GX listed as unexpected."""
    if not index_list:
        return np.zeros(0, dtype=np.int64)
    if isinstance(index_list[0], dict):
        vals: list[Any] = []
        for d in index_list:
            v = d.get(index_name)
            vals.extend(v if isinstance(v, list) else [v])
    else:
        vals = list(index_list)
    arr = np.asarray(vals, dtype=np.int64)
    if isinstance(keys, pd.RangeIndex) and keys.start == 0 and keys.step == 1:
        return np.unique(arr)
    pos = keys.get_indexer(arr)
    return np.unique(pos[pos >= 0])


# ----------------------------------------------------------------------------- Data Docs results
def docs_result(res: Any, raw: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """GX's suite result as JSON without row values or keys (counts only: no PII in reports);
    value sets that came from ``$PARAMETER`` are summarised. ``raw`` maps name -> suite JSON."""
    if res is None:
        return None
    with LOCK:
        doc = res.to_json_dict()
    for r in doc.get("results", []):
        res_part = r.get("result") or {}
        for k in ROW_LEVEL_RESULT_KEYS:
            res_part.pop(k, None)
        cfg = r.get("expectation_config") or {}
        src = raw.get(str((cfg.get("meta") or {}).get("name")), {})
        for k, v in (src.get("kwargs") or {}).items():
            if isinstance(v, dict) and "$PARAMETER" in v and isinstance((cfg.get("kwargs") or {}).get(k), list):
                cfg["kwargs"][k] = [f"${v['$PARAMETER']}: {len(cfg['kwargs'][k])} values"]
    return doc
