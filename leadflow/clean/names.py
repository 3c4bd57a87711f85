"""Person and company names: unicode NFKC, whitespace, casing; company legal forms set aside."""

from __future__ import annotations

import re

import pandas as pd

from leadflow.clean.lists import LEGAL_SUFFIXES

_SUFFIX_RE = re.compile(
    r"(?:\s+(?:" + "|".join(sorted((re.escape(s) for s in (*LEGAL_SUFFIXES, "and")),
                                  key=len, reverse=True)) + r"))+$")


def clean_person_name(s: pd.Series) -> pd.Series:
    """NFKC, collapsed whitespace, stray symbols removed; ALL CAPS / all lower become Title Case.

    Mixed-case names (McDonald, van der Berg) are kept as written.
    """
    t = (s.astype("str").str.normalize("NFKC")
         .str.replace(r"[^\w\s'’.\-]", " ", regex=True)
         .str.replace(r"[\d_]", " ", regex=True)
         .str.replace(r"\s+", " ", regex=True).str.strip(" .-'"))
    t = t.where(t.str.len() > 0)
    single_case = (t == t.str.lower()) | (t == t.str.upper())
    return t.where(~single_case.fillna(False).astype(bool), t.str.title())


def fold(s: pd.Series) -> pd.Series:
    """Lower-case ASCII fold (é -> e, ß -> ss) for matching keys; letters and spaces only."""
    t = (s.astype("str").str.lower().str.replace("ß", "ss", regex=False)
         .str.normalize("NFKD").str.encode("ascii", errors="ignore").str.decode("ascii"))
    t = t.str.replace(r"[^a-z ]", "", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    return t.where(t.str.len() > 0)


def clean_company(s: pd.Series) -> pd.Series:
    """Display form of a company name: NFKC and whitespace only."""
    t = s.astype("str").str.normalize("NFKC").str.replace(r"\s+", " ", regex=True).str.strip()
    return t.where(t.str.len() > 0)


def company_norm(s: pd.Series) -> pd.Series:
    """Matching form: folded, '&' -> 'and', punctuation gone, legal suffixes and 'the' removed.

    'ACME, Inc.' / 'Acme Inc' / 'The Acme Company' all become 'acme'. Computed per unique value.
    """
    uniq = pd.Series(s.dropna().unique(), dtype="str")
    t = (uniq.str.normalize("NFKC").str.lower().str.replace("&", " and ", regex=False)
         .str.replace("ß", "ss", regex=False)
         .str.normalize("NFKD").str.encode("ascii", errors="ignore").str.decode("ascii")
         .str.replace(r"[^a-z0-9 ]", " ", regex=True)
         .str.replace(r"\s+", " ", regex=True).str.strip())
    full = t
    t = (" " + t).str.replace(_SUFFIX_RE, "", regex=True).str.strip()
    t = t.str.replace(r"^the\s+", "", regex=True).str.strip()
    t = t.where(t.str.len() > 0, full)       # a name that is only a legal form stays as is
    t = t.where(t.str.len() > 0)
    return s.map(dict(zip(uniq, t))).astype("str")
