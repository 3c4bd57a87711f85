"""Countries to ISO 3166 alpha-2 from names, official names or alpha-2/alpha-3 codes."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pycountry

from leadflow.vocab._unique import per_unique
from leadflow.vocab.lists import COUNTRY_ALIASES


@lru_cache(maxsize=1)
def country_lookup() -> dict[str, str]:
    """Lower-cased name/code -> alpha-2, built once from pycountry plus common aliases."""
    out: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            v = getattr(c, attr, None)
            if v:
                out[v.lower()] = c.alpha_2
    out.update({k.lower(): v for k, v in COUNTRY_ALIASES.items()})
    return out


def country_iso2(s: pd.Series) -> pd.Series:
    """'Germany', 'DEU', 'de', 'U.K.' -> DE / DE / DE / GB; unknown values become NA."""
    return per_unique(s, _iso2)


def _iso2(s: pd.Series) -> pd.Series:
    key = (s.str.normalize("NFKC").str.strip().str.lower()
           .str.replace(r"\s+", " ", regex=True))
    lookup = country_lookup()
    out = key.map(lookup)
    miss = out.isna() & key.notna()
    if miss.any():   # 'the Netherlands', 'Germany.' : retry without articles / punctuation
        alt = key[miss].str.replace(r"^the ", "", regex=True).str.strip(" .,")
        out[miss] = alt.map(lookup)
    return out.astype("str")
