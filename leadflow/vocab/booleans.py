"""The one yes/no vocabulary, and the rule that an unreadable contact flag means "do not contact".

Before this module, cleaning accepted "x", "opted out" and "unsubscribed" while ingest and
quality rejected them, and cleaning read any unknown word as "not opted out". Now every stage
reads words through ``parse_bools``, and contact flags through ``opt_out_flags`` /
``consent_flags``, which never turn a value nobody can read into permission to contact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0", "on", "x",
                        "opted out", "opted-out", "opt out", "unsubscribed",
                        "checked", "\u2713", "\u2714", "\u2611", "\u2705",   # form tools: a ticked box
                        # exports from CRMs in other interface languages
                        "ja", "oui", "sí", "si", "sim", "tak", "kyllä", "evet"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0", "off", "unchecked", "\u2610",
                         # an email tool's subscription state, the opposite of 'unsubscribed'
                         "subscribed", "opted in", "opted-in", "opt in", "opt-in",
                         "nein", "non", "nee", "nej", "nei", "não", "nao", "nie", "ei", "hayır", "hayir"})


def parse_bools(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Values as delivered -> (nullable booleans, unreadable mask).

    Missing values and blank text are missing (NA, not unreadable); words are matched trimmed
    and case-folded, once per distinct value (factorize), not per row. Booleans are taken as
    they are, the numbers 0 and 1 as False and True (other numbers are unreadable).
    """
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype):
        num = s.astype("float64")
        out = pd.Series(pd.array(np.where(num == 1, True, np.where(num == 0, False, np.array(None, dtype=object))),
                                 dtype="boolean"), index=s.index)
        return out, num.notna() & out.isna()
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    lut = []
    blank = []
    for u in uniques:
        if isinstance(u, (bool, np.bool_)):
            lut.append(bool(u))
            blank.append(False)
            continue
        w = str(u).strip().lower()
        lut.append(True if w in TRUE_WORDS else False if w in FALSE_WORDS else pd.NA)
        blank.append(w == "")
    vals = np.array(lut + [pd.NA], dtype=object)
    empty = np.array(blank + [True], dtype=bool)
    out = pd.Series(pd.array(vals[codes], dtype="boolean"), index=s.index)
    bad = pd.Series(out.isna().to_numpy() & ~empty[codes], index=s.index)
    return out, bad


def opt_out_flags(s: pd.Series) -> pd.Series:
    """An opt-out / do-not-contact column -> True where the person must not be contacted.

    Missing is no signal (False); a readable word is taken as it is; an unreadable value is True.
    """
    val, bad = parse_bools(s)
    return (val.fillna(False).astype(bool) | bad).astype(bool)


def consent_flags(s: pd.Series) -> pd.Series:
    """A consent column (True = may contact) -> True only where consent is readable and given."""
    val, _ = parse_bools(s)
    return val.fillna(False).astype(bool)
