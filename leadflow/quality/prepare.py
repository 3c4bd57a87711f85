"""Give a frame's columns the types its suite declares, before Great Expectations sees it.

Staging columns arrive as text or loosely typed values: text is trimmed (empty means missing;
emails are also lower-cased), numbers, booleans and timestamps are parsed. A value that cannot
be read as its type fails the built-in check ``<field>_type`` (then counts as missing for the
suite) — that is a parse step, not an expectation, so it stays here.

Timestamps become ``datetime64[ns]`` (GX compares those vectorised; other units go through a
Python loop per value). Values outside the nanosecond range (before 1677 or after 2262) are
clipped to its ends for checking only: they keep failing the same range checks, and the
quarantine stores the original record.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from leadflow.quality.suites import Suite
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
    out, bad = parse_datetimes(s)
    return _to_ns(out), bad


_NS_MIN, _NS_MAX = pd.Timestamp.min.ceil("us"), pd.Timestamp.max.floor("us")


def _to_ns(s: pd.Series) -> pd.Series:
    """Microsecond timestamps as nanoseconds, clipped to the representable range."""
    return s.clip(_NS_MIN.as_unit("us"), _NS_MAX.as_unit("us")).astype("datetime64[ns]")


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
