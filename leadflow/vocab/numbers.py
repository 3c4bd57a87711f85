"""Numbers as exports write them: one reader for ingest's typed fields and the model's attributes.

Plain numbers first (vectorised); only values that plain reading missed are looked at again:
thousands grouping ('1,200.50', unless the values show a decimal comma) and, for the model's
attributes, a currency symbol or a percent sign ('$1,200', '12%'). Ingest leaves signs
unread (an amount's currency is a field of its own: a '€' on a USD row must not pass silently).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: '1,200' / '12,500.50' (commas group thousands, an optional point decimal part)
GROUPED = r"\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*"
#: a comma followed by other than three digits: the delivery writes decimals with a comma, so
#: '1,200' there may be 1.2; grouping is not read for it
DECIMAL_COMMA = r"\s*[+-]?\d*,(?:\d{1,2}|\d{4,})\s*"
#: currency symbols and the percent sign a number may carry in a spreadsheet export
SIGNS = r"[$€£¥₹%\u00a0]"


def ungrouped(s: pd.Series) -> pd.Series:
    """Numbers of the values written with thousands grouping (NaN for the rest), unless the
    values show a decimal comma. Only values plain reading missed get here (few)."""
    t = s.astype(str)
    grouped = t.str.fullmatch(GROUPED)
    if not grouped.any() or t.str.fullmatch(DECIMAL_COMMA).any():
        return pd.Series(float("nan"), index=s.index)
    return pd.to_numeric(t.where(grouped).str.replace(",", "", regex=False), errors="coerce").astype("float64")


def read_numbers(s: pd.Series, signs: bool = False) -> pd.Series:
    """Floats, NaN where a value is missing or not a number; ``signs``: also read a number
    written with a currency symbol or a percent sign (the number, without the sign)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    num = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(copy=True)
    retry = s.notna().to_numpy() & np.isnan(num)
    if retry.any():
        t = s[retry].astype(str)
        if signs:
            t = t.str.replace(SIGNS, "", regex=True).str.strip()
        again = pd.to_numeric(t, errors="coerce").astype("float64")
        still = again.isna().to_numpy()
        if still.any():
            again[still] = ungrouped(t[still]).to_numpy()
        num[retry] = again.to_numpy()
    return pd.Series(num, index=s.index)


# A head-count band as forms and CRMs export it: '51-200', '1,001–5,000', '11 to 50'; open ones
# '10,001+', '10000 or more', '>1000', 'more than 1000'.
_N = r"(\d{1,3}(?:,\d{3})+|\d+)"
_BAND = rf"^\s*{_N}\s*(?:-|–|—|to)\s*{_N}\s*$"
_AT_LEAST = rf"^\s*{_N}\s*(?:\+|or more|and (?:above|more|over))\s*$"
_ABOVE = rf"^\s*(?:>|more than|over|above)\s*{_N}\s*$"


def _int(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.str.replace(",", "", regex=False), errors="coerce")


def band_counts(s: pd.Series) -> pd.Series:
    """Values that are head-count bands -> the count as text (a closed band's midpoint, rounded
    half up; an open band's least count); every other value as delivered. Read once per
    distinct value."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if not len(uniq):
        return s
    u = pd.Series(np.asarray(uniq, dtype=object)).astype(str).str.lower()
    out = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    band = u.str.extract(_BAND)
    lo, hi = _int(band[0]), _int(band[1])
    mid = np.floor((lo + hi) / 2 + 0.5)
    ok = (lo <= hi).to_numpy()
    out[ok] = mid[ok].astype("int64").astype(str).to_numpy()
    least = _int(u.str.extract(_AT_LEAST)[0])
    out[least.notna().to_numpy()] = least.dropna().astype("int64").astype(str).to_numpy()
    above = _int(u.str.extract(_ABOVE)[0]) + 1
    out[above.notna().to_numpy()] = above.dropna().astype("int64").astype(str).to_numpy()
    res = out.to_numpy(dtype=object)[np.maximum(codes, 0)]
    return pd.Series(np.where(codes >= 0, res, None), index=s.index, dtype=object).where(s.notna(), s)
