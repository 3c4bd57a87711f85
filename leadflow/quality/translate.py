"""Compile suite expectations to vectorised pandas masks (True = the row fails).

Great Expectations on a big pandas frame spends most of its time collecting failing indexes
and rendering results; the row-level split only needs one boolean array per expectation. Each
translator below mirrors GX 1.x's pandas metric for that expectation type exactly (nulls
skipped for column-map expectations, ``row_condition`` filtering first, ``mostly`` over the
non-null rows), and ``tests/test_quality_translate.py`` checks that GX and the translators
report the same failing counts on a crafted frame.

Before checking, ``prepare`` gives every column its type from the suite's fields: text is
trimmed (empty means missing; emails are also lower-cased), numbers, booleans and timestamps
are parsed, and a value that cannot be read as its type fails the built-in check
``<field>_type`` (then counts as missing for the suite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from leadflow.quality.suites import Check, Suite
from leadflow.vocab.booleans import parse_bools
from leadflow.vocab.datetimes import parse_datetimes


# ----------------------------------------------------------------------------- preparation
def _blank_to_na(s: pd.Series) -> pd.Series:
    """Blank text in a typed field means missing, not a wrong type."""
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        txt = s.astype("str").str.strip()
        return s.where(s.isna() | (txt != ""), None)
    return s


def _as_text(s: pd.Series) -> pd.Series:
    if s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype("str").where(s.notna(), None).astype("str")
    s = s.str.strip()
    return s.where(s.str.len() > 0, None)


def _as_number(s: pd.Series, integer: bool) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("float64")
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = s.notna() & (num.isna() | ~np.isfinite(num.fillna(0)))
    if integer:
        bad |= num.notna() & (num % 1 != 0)
    return num.where(~bad), bad


def _as_datetime(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return parse_datetimes(s)


def _as_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return parse_bools(s)


def prepare(suite: Suite, df: pd.DataFrame, fields: Iterable[str] | None = None
            ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A typed copy of ``df`` for checking, and the rows per field whose value had a wrong type.

    ``fields`` limits the work to some of the suite's fields (e.g. only the key columns)."""
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    bad: dict[str, np.ndarray] = {}
    n = len(df)
    keep = None if fields is None else set(fields)
    for fld, typ in suite.fields.items():
        if keep is not None and fld not in keep:
            continue
        s = df[fld].reset_index(drop=True) if fld in df.columns else pd.Series([None] * n, dtype=object)
        if typ == "str":
            t = _as_text(s)
            if fld == "email":
                t = t.str.lower()
            out[fld] = t
            continue
        s = _blank_to_na(s)
        if typ in ("int", "float"):
            t, b = _as_number(s, typ == "int")
        elif typ in ("datetime", "date"):
            t, b = _as_datetime(s)
        elif typ == "bool":
            t, b = _as_bool(s)
        else:  # unknown type names pass through unchecked
            t, b = s, pd.Series(False, index=s.index)
        out[fld] = t
        if b.any():
            bad[f"{fld}_type"] = b.to_numpy(dtype=bool)
    for c in ("source", "batch_id", "row_number"):
        if c in df.columns and c not in out.columns:
            out[c] = df[c].to_numpy()
    if "source" not in out.columns:
        out["source"] = ""
    return out, bad


# ----------------------------------------------------------------------------- translators
def resolve(kwargs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Replace ``{"$PARAMETER": name}`` values by the run's parameters."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, dict) and "$PARAMETER" in v:
            name = v["$PARAMETER"]
            if name not in params:
                raise KeyError(f"suite parameter {name!r} has no value")
            v = params[name]
        out[k] = v
    return out


def condition_mask(df: pd.DataFrame, rc: Any) -> np.ndarray | None:
    """Rows in scope of a GX row_condition (the subset of conditions the suites use)."""
    if rc is None:
        return None
    if isinstance(rc, dict) and rc.get("type") == "nullity":
        isnull = df[rc["column"]["name"]].isna().to_numpy()
        return isnull if rc.get("is_null", True) else ~isnull
    if isinstance(rc, dict) and rc.get("type") == "comparison":
        col = df[rc["column"]["name"]]
        op, p = rc["operator"], rc["parameter"]
        ops: dict[str, Callable[[], pd.Series]] = {
            "==": lambda: col == p, "!=": lambda: col != p, "<": lambda: col < p,
            "<=": lambda: col <= p, ">": lambda: col > p, ">=": lambda: col >= p,
            "IN": lambda: col.isin(p), "NOT_IN": lambda: ~col.isin(p),
        }
        return ops[op]().fillna(False).to_numpy(dtype=bool)
    raise ValueError(f"row_condition {rc!r} is not supported by the leadflow translator")


def _between(v: pd.Series, kw: dict[str, Any]) -> pd.Series:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    ok = pd.Series(True, index=v.index)
    if lo is not None:
        ok &= (v > lo) if kw.get("strict_min") else (v >= lo)
    if hi is not None:
        ok &= (v < hi) if kw.get("strict_max") else (v <= hi)
    return ok


def _map(fn: Callable[[pd.Series, dict[str, Any]], pd.Series]) -> Callable[..., np.ndarray]:
    """A column-map expectation: nulls are skipped, the rest fail where ``fn`` is False."""
    def run(df: pd.DataFrame, kw: dict[str, Any]) -> np.ndarray:
        col = df[kw["column"]]
        nn = col.notna().to_numpy()
        fails = np.zeros(len(df), dtype=bool)
        if nn.any():
            ok = fn(col[nn], kw).fillna(False).to_numpy(dtype=bool)
            fails[np.flatnonzero(nn)] = ~ok
        return fails
    return run


def _compound_unique(df: pd.DataFrame, kw: dict[str, Any]) -> np.ndarray:
    cols = kw["column_list"]
    sub = df[cols]
    how = kw.get("ignore_row_if", "all_values_are_missing")
    miss = sub.isna()
    skip = miss.any(axis=1) if how == "any_value_is_missing" else (
        miss.all(axis=1) if how == "all_values_are_missing" else pd.Series(False, index=sub.index))
    keep = ~skip.to_numpy()
    fails = np.zeros(len(df), dtype=bool)
    fails[np.flatnonzero(keep)] = sub[keep].duplicated(keep=False).to_numpy()
    return fails


ROW_TRANSLATORS: dict[str, Callable[[pd.DataFrame, dict[str, Any]], np.ndarray]] = {
    "expect_column_values_to_not_be_null": lambda df, kw: df[kw["column"]].isna().to_numpy(),
    "expect_column_values_to_match_regex": _map(lambda v, kw: v.astype(str).str.contains(kw["regex"])),
    "expect_column_values_to_not_match_regex": _map(lambda v, kw: ~v.astype(str).str.contains(kw["regex"])),
    "expect_column_values_to_be_in_set": _map(lambda v, kw: v.isin(kw["value_set"])),
    "expect_column_values_to_not_be_in_set": _map(lambda v, kw: ~v.isin(kw["value_set"])),
    "expect_column_values_to_be_between": _map(_between),
    "expect_column_value_lengths_to_be_between": _map(lambda v, kw: _between(v.astype(str).str.len(), kw)),
    "expect_column_values_to_be_unique": _map(lambda v, kw: ~v.duplicated(keep=False)),
    "expect_compound_columns_to_be_unique": _compound_unique,
}


def unexpected(check: Check, df: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
    """Boolean array over ``df``: True where the row fails ``check`` (rows out of scope: False)."""
    kw = resolve(check.kwargs, params)
    if check.type not in ROW_TRANSLATORS:
        raise ValueError(f"expectation type {check.type} ({check.name}) has no row translator")
    scope = condition_mask(df, kw.get("row_condition"))
    if scope is None:
        return ROW_TRANSLATORS[check.type](df, kw)
    fails = np.zeros(len(df), dtype=bool)
    if scope.any():
        sub = df[scope].reset_index(drop=True)
        fails[np.flatnonzero(scope)] = ROW_TRANSLATORS[check.type](sub, kw)
    return fails


#: Row checks that compare a row with other rows: over a frame read in chunks they are
#: evaluated once on the whole source's key columns (``leadflow.quality.run``).
GLOBAL_TYPES = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def dataset_partial(check: Check, df: pd.DataFrame, params: dict[str, Any]) -> dict[str, int]:
    """Counts behind a dataset-level check over one part of a dataset (they add up over parts)."""
    kw = resolve(check.kwargs, params)
    if check.type == "expect_table_row_count_to_be_between":
        return {"rows": len(df)}
    if check.type == "expect_column_values_to_not_be_null":
        scope = condition_mask(df, kw.get("row_condition"))
        col = df[kw["column"]] if scope is None else df.loc[scope, kw["column"]]
        return {"total": len(col), "present": int(col.notna().sum())}
    if check.type in ROW_TRANSLATORS and check.type not in GLOBAL_TYPES and "column" in kw:
        fails = unexpected(check, df, params)
        return {"nonnull": int(df[kw["column"]].notna().sum()), "fails": int(fails.sum())}
    raise ValueError(f"expectation type {check.type} ({check.name}) has no dataset translator")


def dataset_finish(check: Check, counts: dict[str, int], params: dict[str, Any]) -> dict[str, Any]:
    """The verdict of a dataset-level check from its summed counts: ``{"success", "observed", "expected"}``."""
    kw = resolve(check.kwargs, params)
    if check.type == "expect_table_row_count_to_be_between":
        n = int(counts.get("rows", 0))
        ok = _between(pd.Series([n]), kw).iloc[0]
        return {"success": bool(ok), "observed": n,
                "expected": f"{kw.get('min_value')}..{kw.get('max_value')}"}
    mostly = kw.get("mostly", 1)
    if check.type == "expect_column_values_to_not_be_null":
        total, present = int(counts.get("total", 0)), int(counts.get("present", 0))
        share = present / total if total else 1.0
        return {"success": total == 0 or share >= mostly, "observed": round(share, 4),
                "expected": f">= {mostly}"}
    nonnull, fails = int(counts.get("nonnull", 0)), int(counts.get("fails", 0))
    share = 1.0 - (fails / nonnull if nonnull else 0.0)
    return {"success": share >= mostly, "observed": round(share, 4), "expected": f">= {mostly}"}


def dataset_result(check: Check, df: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a dataset-level check on a whole frame: ``{"success", "observed", "expected"}``."""
    return dataset_finish(check, dataset_partial(check, df, params), params)


def nullity_only(check: Check) -> bool:
    """True when a dataset check depends only on which values are missing (and the row count)."""
    rc = check.kwargs.get("row_condition")
    rc_ok = rc is None or (isinstance(rc, dict) and rc.get("type") == "nullity")
    return rc_ok and check.type in ("expect_table_row_count_to_be_between",
                                    "expect_column_values_to_not_be_null")
