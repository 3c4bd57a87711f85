"""The one timestamp reader: anything delivered (text, datetime objects, aware or naive
datetime columns) -> naive UTC ``datetime64[us]``, with a mask of values that could not be read.

ISO 8601 text is parsed in one vectorised pass; only what fails is retried with pandas'
per-value ``format="mixed"`` parser, in the day/month order the column itself shows
(``day_order``). Naive values are taken as UTC. Blank text is missing.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime

import numpy as np
import pandas as pd


def parse_datetimes(s: pd.Series, day_first: bool | None = None) -> tuple[pd.Series, pd.Series]:
    """(naive UTC datetime64[us], unreadable mask) for any delivered timestamps. ``day_first``:
    the order of numeric dates (03/11/2026) when the source declares it; None reads it from
    the column (``day_order``)."""
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
        epoch = from_epoch(txt[retry])
        out = out.where(~retry, epoch.fillna(from_excel_serial(txt[retry])))
        retry = retry & out.isna()
    if retry.any():
        if day_first is None:
            day_first, ambiguous = day_order(txt[retry])
        else:
            ambiguous = pd.Series(False, index=txt[retry].index)
        # zone words and JavaScript's Date string as an ISO offset (other values unchanged)
        again = by_guessed_formats(with_offsets(txt[retry]), day_first)
        out = out.where(~retry, again.where(~ambiguous))
    out = out.dt.tz_convert(None).astype("datetime64[us]")
    return out, present & out.isna()


GUESSES = 8      # formats guessed per column before the rest is read value by value


def by_guessed_formats(txt: pd.Series, day_first: bool) -> pd.Series:
    """UTC times of non-ISO text, as pandas' ``format="mixed"`` reads them, but fast: an export
    writes one or a few formats ('11/26/2026 10:15 AM'), so a format is guessed from a value
    not read yet (in the column's day/month order) and applied to every remaining value at
    once, vectorised; what no guessed format reads goes through the value-by-value parser.
    A million US-style timestamps took ~40 s value by value."""
    from pandas.tseries.api import guess_datetime_format
    out = pd.Series(pd.NaT, index=txt.index, dtype="datetime64[ns, UTC]")
    todo = txt.notna().to_numpy().copy()
    tried: set[str] = set()
    for _ in range(GUESSES):
        rest = txt[todo]
        sample = next((v for v in rest.drop_duplicates().head(GUESSES) if v not in tried), None)
        if sample is None:
            break
        tried.add(sample)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fmt = guess_datetime_format(str(sample).strip(), dayfirst=day_first)
        if not fmt:
            continue
        got = pd.to_datetime(rest.str.strip(), format=fmt, errors="coerce", utc=True)
        hit = got.notna().to_numpy()
        out[rest.index[hit]] = got[hit]
        todo[np.flatnonzero(todo)[hit]] = False
        if not todo.any():
            return out
    if todo.any():
        out[txt.index[todo]] = pd.to_datetime(txt[todo], errors="coerce", format="mixed", dayfirst=day_first,
                                              utc=True)
    return out


# Zone abbreviations that name one zone only (CST, IST, BST name two or three: left unreadable).
ZONES = {"PST": "-08:00", "PDT": "-07:00", "MST": "-07:00", "MDT": "-06:00", "CDT": "-05:00",
         "EST": "-05:00", "EDT": "-04:00", "AKST": "-09:00", "AKDT": "-08:00", "HST": "-10:00",
         "WET": "+00:00", "WEST": "+01:00", "CET": "+01:00", "CEST": "+02:00", "EET": "+02:00",
         "EEST": "+03:00", "MSK": "+03:00", "JST": "+09:00", "KST": "+09:00", "AEST": "+10:00",
         "AEDT": "+11:00", "ACST": "+09:30", "ACDT": "+10:30", "AWST": "+08:00", "NZST": "+12:00",
         "NZDT": "+13:00"}
_ZONE_AT_END = r"\s+(" + "|".join(ZONES) + r")\s*$"
# 'GMT+0100', 'UTC-5', 'UTC+05:30' (JavaScript's Date string, many tools): an ISO offset
_GMT_OFFSET = r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?"
_WEEKDAY = r"^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s+"
_MAYBE_ZONED = r"GMT|UTC|[A-Z]{3,4}\s*$|\)\s*$|^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"


def with_offsets(txt: pd.Series) -> pd.Series:
    """Timestamps with their zone written as an ISO offset: an unambiguous zone abbreviation
    ('10:00 PST'), 'GMT+0100' / 'UTC-5', a weekday in front and a zone name in brackets after
    (JavaScript's 'Thu Nov 26 2026 10:00:00 GMT+0100 (Central European Standard Time)')."""
    out = txt.astype("str")
    cand = out.str.contains(_MAYBE_ZONED, regex=True).fillna(False).astype(bool)   # vectorised: few do
    if not cand.any():
        return out
    t = out[cand].str.replace(r"\s*\([^()]*\)\s*$", "", regex=True).str.replace(_WEEKDAY, "", regex=True)
    t = t.str.replace(_GMT_OFFSET, lambda m: f" {m.group(1)}{int(m.group(2)):02d}:{m.group(3) or '00'}", regex=True)
    out[cand] = t.str.replace(_ZONE_AT_END, lambda m: " " + ZONES[m.group(1)], regex=True)
    return out


# A numeric date: two numbers of one or two digits, then a year (28/11/2026, 11-28-26, 3.4.2026).
NUMERIC_DATE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}(?:\D|$)"


def day_order(txt: pd.Series) -> tuple[bool, pd.Series]:
    """(read day first?, values whose order cannot be told) for the numeric dates of a column.

    The column shows its order: a first number above 12 is a day (28/11/2026), a second one
    above 12 is a day too (11/28/2026). With only one kind, every value is read that way; with
    none, month first (pandas' default, as most US exports). With both, the column mixes two
    orders and a value whose numbers could be either (03/04/2026) cannot be read."""
    parts = txt.astype("str").str.extract(NUMERIC_DATE).astype("float64")
    first, second = parts[0], parts[1]
    day_first = bool(((first > 12) & (second <= 12)).any())
    month_first = bool(((second > 12) & (first <= 12)).any())
    ambiguous = (first <= 12) & (second <= 12) & (first != second) if day_first and month_first else first < 0
    return day_first and not month_first, ambiguous.fillna(False).astype(bool)


# Unix time as APIs send it: seconds (9-10 digits, a fraction allowed) or milliseconds (12-13).
EPOCH_SECONDS = r"\s*\d{9,10}(?:\.\d+)?\s*"
EPOCH_MILLISECONDS = r"\s*\d{12,13}\s*"


def from_epoch(txt: pd.Series) -> pd.Series:
    """UTC times of the values written as Unix time (NaT for the rest). Other digit runs are not
    times: 8 digits are a compact date (20261103, read by the date parser), the rest unreadable."""
    t = txt.astype("str")
    seconds = pd.to_numeric(t.where(t.str.fullmatch(EPOCH_SECONDS)), errors="coerce")
    millis = pd.to_numeric(t.where(t.str.fullmatch(EPOCH_MILLISECONDS)), errors="coerce") / 1000
    return pd.to_datetime(seconds.fillna(millis), unit="s", utc=True, errors="coerce")


# Excel's serial date (a date column saved as 'General'): days since 1899-12-30, a fraction the
# time of day; five digits, read only from 1954-10-03 (20000) to 2119-01-10 (80000).
EXCEL_SERIAL = r"\s*\d{5}(?:\.\d+)?\s*"
EXCEL_EPOCH = pd.Timestamp("1899-12-30", tz="UTC")


def from_excel_serial(txt: pd.Series) -> pd.Series:
    """UTC times of the values written as Excel serial dates (NaT for the rest)."""
    t = txt.astype("str")
    days = pd.to_numeric(t.where(t.str.fullmatch(EXCEL_SERIAL)), errors="coerce")
    days = days.where((days >= 20000) & (days < 80000))
    return EXCEL_EPOCH + pd.to_timedelta(days, unit="D")


def to_utc(s: pd.Series) -> pd.Series:
    """Timestamps -> naive UTC; what cannot be read is missing (callers that must know use
    ``parse_datetimes``)."""
    return parse_datetimes(s)[0]
