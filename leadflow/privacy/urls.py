"""Strip personal data from URLs before they are stored (landing pages, touch URLs).

Form tools and email links put the visitor in the query string (``?email=...&first_name=...``).
Removed: parameters named like personal fields (email, e, name, first_name, last_name, phone,
fn, ln, ...) and any parameter whose value looks like an email address or a phone number
(``+`` / ``00`` and 8-15 digits, or 7-15 digits with phone separators). The query of a
``#fragment`` is treated the same; an address in the path is replaced by ``[removed]``.
Campaign parameters (utm_*) and other values are kept as they are, byte for byte.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import pandas as pd

PII_KEYS = frozenset({
    "email", "e", "mail", "email_address", "emailaddress", "user_email", "contact_email",
    "name", "full_name", "fullname", "first_name", "firstname", "fname", "fn", "given_name",
    "last_name", "lastname", "lname", "ln", "surname", "family_name",
    "phone", "phone_number", "phonenumber", "tel", "telephone", "mobile", "cell",
})
_EMAIL = re.compile(r"[^\s@/?#&=]+@[^\s@/?#&=]+\.[A-Za-z]{2,}")
_PHONE_CHARS = re.compile(r"\+?[\d\s().\-/]+")
# a cheap first look: only URLs with a hint of personal data are parsed in Python
_SUSPECT = (r"@|%40|[?&#;](?:" + "|".join(sorted(PII_KEYS, key=len, reverse=True))
            + r")=|=(?:\+|%2B|00)?[\d\s().%-]{7,}")


def _is_phone(v: str) -> bool:
    v = v.strip()
    if not _PHONE_CHARS.fullmatch(v):
        return False
    digits = re.sub(r"\D", "", v)
    if v.startswith(("+", "00")):
        return 8 <= len(digits) <= 15
    return 7 <= len(digits) <= 15 and bool(re.search(r"[\s().\-/]", v))


def _personal(k: str, v: str) -> bool:
    key = k.strip().lower()
    if key.startswith("utm_"):
        return bool(_EMAIL.search(v))
    return key in PII_KEYS or bool(_EMAIL.search(v)) or _is_phone(v)


def _clean_query(qs: str) -> str:
    if not qs or "=" not in qs:
        return qs
    pairs = parse_qsl(qs, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _personal(k, v)]
    return qs if len(kept) == len(pairs) else urlencode(kept)


def strip_one(url: str) -> str:
    """One URL without personal parameters (unchanged when there is nothing to remove)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _EMAIL.sub("[removed]", unquote_plus(url))
    path = _EMAIL.sub("[removed]", parts.path) if "@" in parts.path else parts.path
    out = parts._replace(path=path, query=_clean_query(parts.query),
                         fragment=_clean_query(parts.fragment))
    return url if out == parts else urlunsplit(out)


def strip_pii(url: pd.Series) -> pd.Series:
    """``strip_one`` for a column: only suspect URLs are parsed, each distinct one once."""
    if url.empty:
        return url
    s = url.astype(object)
    text = url.astype("str")
    suspect = text.str.contains(_SUSPECT, case=False, regex=True).fillna(False).to_numpy(bool)
    if not suspect.any():
        return url
    vals = s[suspect]
    fixed = {u: strip_one(u) for u in vals.unique() if isinstance(u, str)}
    s = s.copy()
    s[suspect] = vals.map(fixed).to_numpy()
    return s
