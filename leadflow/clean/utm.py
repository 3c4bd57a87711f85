"""UTM parameters from landing URLs (vectorised extraction, unquoted once per unique value)."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pandas as pd

from leadflow.vocab._unique import per_unique

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def parse_utm(url: pd.Series, fields: tuple[str, ...] = UTM_FIELDS) -> pd.DataFrame:
    """One column per UTM parameter (lower-cased, trimmed; NA when absent or empty).

    Parsed once per distinct URL (campaign links repeat)."""
    return per_unique(url, lambda u: _parse_unique(u, fields))


def _parse_unique(s: pd.Series, fields: tuple[str, ...]) -> pd.DataFrame:
    out = {}
    for f in fields:
        # replace-with-group runs in Arrow (RE2); str.extract would run Python's re per row
        has = s.str.contains(rf"[?&#]{f}=", regex=True).fillna(False).astype(bool)
        raw = s.str.replace(rf"^.*?[?&#]{f}=([^&#]*).*$", r"\1", regex=True).where(has)
        coded = raw.str.contains(r"[%+]", regex=True).fillna(False).astype(bool)
        if coded.any():
            raw = raw.astype(object)
            raw[coded] = [unquote_plus(u) for u in raw[coded]]
            raw = raw.astype("str")
        val = raw.str.strip().str.lower()
        out[f] = val.where(val.str.len() > 0)
    return pd.DataFrame(out, index=s.index)
