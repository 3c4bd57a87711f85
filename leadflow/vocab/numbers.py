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


# A head-count band as forms and CRMs export it: '51-200', '1,001–5,000', '11 to 50', '1k-5k';
# open ones '10,001+', '10K+', '10000 or more', '>1000', 'more than 1000'; bounded ones '<10',
# 'under 10', 'up to 50'. A count may be grouped ('10,000', '10 000'), carry k/m ('2.5k'), a
# unit ('250 employees', '11-50 Mitarbeiter') or an 'about' ('~100', 'ca. 200').
_N = r"(\d{1,3}(?:[, ]\d{3})+|\d+(?:\.\d+)?\s*[km]|\d+)"
_BAND = rf"^\s*{_N}\s*(?:-|–|—|to)\s*{_N}\s*$"
_AT_LEAST = rf"^\s*{_N}\s*(?:\+|or more|and (?:above|more|over))\s*$"
_ABOVE = rf"^\s*(?:>|more than|over|above)\s*{_N}\s*$"
_BELOW = rf"^\s*(?:<|less than|fewer than|under|below)\s*{_N}\s*$"
_UP_TO = rf"^\s*(?:up to|<=|≤|at most)\s*{_N}\s*$"
_ONE = rf"^\s*{_N}\s*$"
_UNIT = (r"\s*(?:employees?|emps?|staff|people|persons?|ppl|ftes?|workers?|headcount|mitarbeiter(?:innen)?"
         r"|salariés?|empleados?|dipendenti|medewerkers)\.?\s*$")
_ABOUT = r"^\s*(?:~|≈|approx\.?|approximately|about|around|roughly|ca\.?|circa)\s*"
_PLAIN = r"^\s*(?:\d+(?:\.\d+)?|\d{1,3}(?:,\d{3})+)\s*$"     # left to the integer reader as delivered


def _int(s: pd.Series) -> pd.Series:
    """A count token ('10,000', '10 000', '2.5k') -> float (NaN where missing)."""
    t = s.str.replace(r"[, ]", "", regex=True)
    mult = np.select([t.str.endswith("k").fillna(False), t.str.endswith("m").fillna(False)], [1e3, 1e6], 1.0)
    return pd.to_numeric(t.str.rstrip("km"), errors="coerce") * mult


def _half_up(x: pd.Series) -> pd.Series:
    return np.floor(x + 0.5)


def band_counts(s: pd.Series) -> pd.Series:
    """Values that are head counts as people type them -> the count as text (a closed band's
    midpoint, rounded half up; an open band's least count; '<N' the band 1..N-1, 'up to N'
    1..N); a plain number and every other value as delivered. Read once per distinct value."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if not len(uniq):
        return s
    raw = pd.Series(np.asarray(uniq, dtype=object)).astype(str).str.lower()
    u = (raw.str.replace("[\u00a0\u202f\u2009]", " ", regex=True).str.replace(_UNIT, "", regex=True)
         .str.replace(_ABOUT, "", regex=True))
    out = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    band = u.str.extract(_BAND)
    lo, hi = _int(band[0]), _int(band[1])
    counts = [_half_up((lo + hi) / 2).where(lo <= hi),
              _int(u.str.extract(_AT_LEAST)[0]),
              _int(u.str.extract(_ABOVE)[0]) + 1,
              _half_up(_int(u.str.extract(_BELOW)[0]) / 2),
              _half_up((_int(u.str.extract(_UP_TO)[0]) + 1) / 2),
              _half_up(_int(u.str.extract(_ONE)[0])).where(~raw.str.fullmatch(_PLAIN).fillna(False).astype(bool))]
    for c in counts:
        ok = c.notna().to_numpy()
        out[ok] = c[ok].astype("int64").astype(str).to_numpy()
    res = out.to_numpy(dtype=object)[np.maximum(codes, 0)]
    return pd.Series(np.where(codes >= 0, res, None), index=s.index, dtype=object).where(s.notna(), s)
