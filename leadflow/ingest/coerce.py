"""Typing raw text to the canonical types, vectorised, with a failure mask per field.

Each converter returns ``(typed, bad)``: ``bad`` is True where a value was delivered but
could not be read as the type, so the row can be quarantined with the field and the why.
"""

from __future__ import annotations

import pandas as pd

from leadflow.vocab.booleans import parse_bools
from leadflow.vocab.datetimes import parse_datetimes
from leadflow.vocab.numbers import read_numbers


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
    """Plain or thousands-grouped numbers (``leadflow.vocab.numbers``); signs are not read."""
    num = read_numbers(s)
    bad = _present(s) & (num.isna() | ~num.abs().lt(float("inf")))
    return num.where(~bad), bad


INT_MAX = 2**63 - 1   # BIGINT on both warehouses; a 20-digit count is a typo, not a size


def to_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    num, bad = to_float(s)
    frac = num.notna() & (num % 1 != 0)
    bad = bad | frac | (num.notna() & ~num.abs().lt(INT_MAX))
    return num.where(~bad).round().astype("Int64"), bad


def to_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no words to booleans through the shared vocabulary (``leadflow.vocab.booleans``)."""
    return parse_bools(text(s))


def to_datetime(s: pd.Series, day_first: bool | None = None) -> tuple[pd.Series, pd.Series]:
    """Timestamps to naive UTC through the shared reader (``leadflow.vocab.datetimes``);
    ``day_first``: the source's order of numeric dates (None: read from the column)."""
    return parse_datetimes(text(s), day_first)


def to_date(s: pd.Series, day_first: bool | None = None) -> tuple[pd.Series, pd.Series]:
    out, bad = to_datetime(s, day_first)
    return out.dt.normalize(), bad


CONVERTERS = {"str": to_str, "int": to_int, "float": to_float, "bool": to_bool,
              "datetime": to_datetime, "date": to_date}


def convert(typ: str, s: pd.Series, day_first: bool | None = None) -> tuple[pd.Series, pd.Series]:
    """(typed values, unreadable mask) for a field of type ``typ``; ``day_first`` is the
    source's order of numeric dates (date types only)."""
    if typ == "datetime":
        return to_datetime(s, day_first)
    if typ == "date":
        return to_date(s, day_first)
    return CONVERTERS[typ](s)

WHY = {"int": "not a whole number (or out of range)", "float": "not a number", "bool": "not a yes/no value",
       "datetime": "not a date-time (or a numeric date whose day/month order the delivery leaves open: "
                   "set the source's day_first)",
       "date": "not a date (or a numeric date whose day/month order the delivery leaves open: "
               "set the source's day_first)"}


def numeric_if_clean(s: pd.Series) -> pd.Series:
    """Attributes: numbers when every delivered value is a number, else text as delivered."""
    if s.notna().sum() == 0:
        return s
    num = pd.to_numeric(s, errors="coerce")
    return num if (num.notna() == s.notna()).all() else s
