"""Typing raw text to the canonical types, vectorised, with a failure mask per field.

Each converter returns ``(typed, bad)``: ``bad`` is True where a value was delivered but
could not be read as the type, so the row can be quarantined with the field and the why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE = {"true", "t", "yes", "y", "1", "1.0", "on"}
FALSE = {"false", "f", "no", "n", "0", "0.0", "off"}


def _present(s: pd.Series) -> pd.Series:
    return s.notna()


def text(s: pd.Series) -> pd.Series:
    """Object-dtype text (Python str or None). Object keeps the C CSV parser's strings as they
    are; pandas' arrow-backed ``str`` dtype would cost a conversion each way per column."""
    if s.dtype == object:
        return s
    return s.astype(str).astype(object).where(s.notna(), None)


def to_str(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return text(s), pd.Series(False, index=s.index)


def to_float(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = _present(s) & (num.isna() | ~num.abs().lt(float("inf")))
    return num.where(~bad), bad


INT_MAX = 2**63 - 1   # BIGINT on both warehouses; a 20-digit count is a typo, not a size


def to_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    num, bad = to_float(s)
    frac = num.notna() & (num % 1 != 0)
    bad = bad | frac | (num.notna() & ~num.abs().lt(INT_MAX))
    return num.where(~bad).round().astype("Int64"), bad


def to_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no words to booleans; classified once per distinct value (factorize), not per row."""
    codes, uniques = pd.factorize(text(s), use_na_sentinel=True)
    low = [str(u).strip().lower() for u in uniques]
    lut = np.array([True if v in TRUE else False if v in FALSE else pd.NA for v in low] + [pd.NA],
                   dtype=object)
    out = pd.Series(pd.array(lut[codes], dtype="boolean"), index=s.index)
    bad = _present(s) & out.isna()
    return out, bad


def to_datetime(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 fast path, then a mixed-format retry for the rest; result naive UTC."""
    txt = text(s)
    out = pd.to_datetime(txt, errors="coerce", format="ISO8601", utc=True)
    retry = _present(s) & out.isna()
    if retry.any():
        again = pd.to_datetime(txt[retry], errors="coerce", format="mixed", utc=True)
        out = out.copy()
        out[retry] = again
    bad = _present(s) & out.isna()
    return out.dt.tz_convert(None).astype("datetime64[us]"), bad


def to_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    out, bad = to_datetime(s)
    return out.dt.normalize(), bad


CONVERTERS = {"str": to_str, "int": to_int, "float": to_float, "bool": to_bool,
              "datetime": to_datetime, "date": to_date}

WHY = {"int": "not a whole number (or out of range)", "float": "not a number", "bool": "not a yes/no value",
       "datetime": "not a date-time", "date": "not a date"}


def numeric_if_clean(s: pd.Series) -> pd.Series:
    """Attributes: numbers when every delivered value is a number, else text as delivered."""
    if s.notna().sum() == 0:
        return s
    num = pd.to_numeric(s, errors="coerce")
    return num if (num.notna() == s.notna()).all() else s
