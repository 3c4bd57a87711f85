"""Phone numbers to E.164 with phonenumbers, using the lead's country for national formats.

phonenumbers works one value at a time, so numbers are first reduced vectorised to their dialable
characters (which collapses the many formats of one number); numbers written with their
international prefix (+ or 00) become E.164 directly (length-checked, 8-15 digits), the rest are
parsed once per unique (digits, country) pair.
"""

from __future__ import annotations

import phonenumbers
import pandas as pd

_EXTENSION = r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}\s*$"


def _parse(digits: str, region: str | None) -> str | None:
    try:
        n = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def to_e164(phone: pd.Series, country: pd.Series | None = None) -> pd.Series:
    """E.164 strings (``+4930123456``) or NA when the number is not a possible number.

    ``country`` is ISO alpha-2 (NA: the number must carry its own +country code). Possible,
    not strictly valid, numbers are kept: matching needs the same key for the same number,
    and the metadata's notion of a valid range lags behind real allocations.
    """
    s = phone.astype("str").str.lower().str.replace(_EXTENSION, "", regex=True)
    plus = s.str.strip().str.match(r"^(?:\+|00)").fillna(False).astype(bool)
    digits = s.str.replace(r"\D", "", regex=True)
    digits = digits.where(~(plus & digits.str.startswith("00")), digits.str[2:])
    digits = digits.where(digits.str.len().between(6, 17))
    digits = ("+" + digits).where(plus, digits)
    region = (country.astype("str").str.upper() if country is not None
              else pd.Series(pd.NA, index=phone.index, dtype="str"))
    region = region.where(region.str.fullmatch(r"[A-Z]{2}").fillna(False).astype(bool), "ZZ")
    # fast path: an explicit international number needs no metadata to be written as E.164
    # (''+44 (0)20...'' style trunk digits are left to phonenumbers)
    intl = plus & digits.notna() & ~s.str.contains(r"\(0\)", regex=True).fillna(False).astype(bool) \
        & digits.str.len().between(9, 16).fillna(False).astype(bool) \
        & ~digits.str.startswith("+0").fillna(False).astype(bool)
    keys = pd.DataFrame({"d": digits, "r": region})[~intl.to_numpy()].dropna(subset=["d"])
    uniq = keys.drop_duplicates()
    parsed = [_parse(d, None if r == "ZZ" else r) for d, r in zip(uniq["d"], uniq["r"])]
    lookup = pd.Series(parsed, index=pd.MultiIndex.from_frame(uniq), dtype="str")
    out = pd.Series(pd.NA, index=phone.index, dtype="str")
    out[intl.to_numpy()] = digits[intl.to_numpy()]
    if len(keys):
        out.loc[keys.index] = lookup.reindex(pd.MultiIndex.from_frame(keys)).to_numpy()
    return out
