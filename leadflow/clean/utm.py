"""UTM parameters from landing URLs (vectorised extraction, unquoted once per unique value)."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pandas as pd

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def parse_utm(url: pd.Series, fields: tuple[str, ...] = UTM_FIELDS) -> pd.DataFrame:
    """One column per UTM parameter (lower-cased, trimmed; NA when absent or empty)."""
    s = url.astype("str")
    out = {}
    for f in fields:
        raw = s.str.extract(rf"[?&#]{f}=([^&#]*)", expand=False)
        uniq = raw.dropna().unique()
        val = raw.map({u: unquote_plus(u).strip().lower() for u in uniq}).astype("str")
        out[f] = val.where(val.str.len() > 0)
    return pd.DataFrame(out, index=url.index)
