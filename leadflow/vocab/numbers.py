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
