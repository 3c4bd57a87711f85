"""Person and company names: unicode NFKC, whitespace, casing; company legal forms set aside."""

from __future__ import annotations

import re

import pandas as pd

from leadflow.vocab._unique import SPACE, per_unique
from leadflow.vocab.lists import LEGAL_SUFFIXES

# a plain string (a compiled pattern would make pandas run Python's re row by row); the text it
# is applied to holds only [a-z0-9 ] at that point, so " +" stands for any whitespace
_SUFFIX_RE = (r"(?: +(?:" + "|".join(sorted((re.escape(s).replace("\\ ", " ") for s in (*LEGAL_SUFFIXES, "and")),
                                           key=len, reverse=True)) + r"))+$")


_NON_ASCII = r"[^\x00-\x7f]"     # after NFKD: accents (and non-Latin letters) dropped, in Arrow


def clean_person_name(s: pd.Series) -> pd.Series:
    """NFKC, collapsed whitespace, stray symbols removed; ALL CAPS / all lower become Title Case.

    Mixed-case names (McDonald, van der Berg) are kept as written. Once per distinct name.
    """
    return per_unique(s, _person_name)


def _person_name(s: pd.Series) -> pd.Series:
    t = (s.str.normalize("NFKC")
         .str.replace(r"[^\w\s'’.\-]", " ", regex=True)
         .str.replace(r"[\d_]", " ", regex=True)
         .str.replace(r"\s+", " ", regex=True).str.strip(" .-'"))
    t = t.where(t.str.len() > 0)
    single_case = (t == t.str.lower()) | (t == t.str.upper())
    return t.where(~single_case.fillna(False).astype(bool), t.str.title())


def fold(s: pd.Series) -> pd.Series:
    """Lower-case ASCII fold (é -> e, ß -> ss) for matching keys; letters and spaces only."""
    t = (s.astype("str").str.lower().str.replace("ß", "ss", regex=False)
         .str.normalize("NFKD").str.replace(_NON_ASCII, "", regex=True))
    t = t.str.replace(r"[^a-z ]", "", regex=True).str.replace(r" +", " ", regex=True).str.strip()
    return t.where(t.str.len() > 0)


def clean_company(s: pd.Series) -> pd.Series:
    """Display form of a company name: NFKC and whitespace only (once per distinct name)."""
    return per_unique(s, _company)


def _company(s: pd.Series) -> pd.Series:
    t = s.str.normalize("NFKC").str.replace(SPACE + "+", " ", regex=True).str.strip()
    return t.where(t.str.len() > 0)


def company_norm(s: pd.Series) -> pd.Series:
    """Matching form: folded, '&' -> 'and', punctuation gone, legal suffixes and 'the' removed.

    'ACME, Inc.' / 'Acme Inc' / 'The Acme Company' all become 'acme'. Computed per unique value.
    """
    return per_unique(s, _company_norm)


def _company_norm(uniq: pd.Series) -> pd.Series:
    t = (uniq.str.normalize("NFKC").str.lower().str.replace("&", " and ", regex=False)
         .str.replace("ß", "ss", regex=False)
         .str.normalize("NFKD").str.replace(_NON_ASCII, "", regex=True)
         .str.replace(r"[^a-z0-9 ]", " ", regex=True)
         .str.replace(r" +", " ", regex=True).str.strip())
    full = t
    t = (" " + t).str.replace(_SUFFIX_RE, "", regex=True).str.strip()
    t = t.str.replace(r"^the +", "", regex=True).str.strip()
    t = t.where(t.str.len() > 0, full)       # a name that is only a legal form stays as is
    return t.where(t.str.len() > 0)
