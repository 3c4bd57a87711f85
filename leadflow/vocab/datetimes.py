"""The one timestamp reader: anything delivered (text, datetime objects, aware or naive
datetime columns) -> naive UTC ``datetime64[us]``, with a mask of values that could not be read.

ISO 8601 text is parsed in one vectorised pass; only what fails is retried with pandas'
per-value ``format="mixed"`` parser. Naive values are taken as UTC. Blank text is missing.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd


def parse_datetimes(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(naive UTC datetime64[us], unreadable mask) for any delivered timestamps."""
    none_bad = pd.Series(False, index=s.index)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]"), none_bad
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[us]"), none_bad
    present = s.notna()
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        # Python datetime/date objects mixed with text: objects to ISO text, text as it is.
        s = s.map(lambda v: v.isoformat() if isinstance(v, (datetime, date)) else v, na_action="ignore")
    txt = s.astype("str").where(present, None).astype(object)
    blank = present & (txt.astype("str").str.strip() == "").fillna(False).astype(bool)
    present = present & ~blank
    txt = txt.where(present, None)
    out = pd.to_datetime(txt, errors="coerce", format="ISO8601", utc=True)
    retry = present & out.isna()
    if retry.any():
        again = pd.to_datetime(txt[retry], errors="coerce", format="mixed", utc=True)
        out = out.where(~retry, again)
    out = out.dt.tz_convert(None).astype("datetime64[us]")
    return out, present & out.isna()


def to_utc(s: pd.Series) -> pd.Series:
    """Timestamps -> naive UTC; what cannot be read is missing (callers that must know use
    ``parse_datetimes``)."""
    return parse_datetimes(s)[0]
