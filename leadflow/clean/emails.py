"""Email normalisation: one canonical address per mailbox, plus the flags scoring and accounts use.

Syntax is checked without network look-ups: ASCII addresses against the WHATWG (HTML living
standard) address pattern with a dotted, alphabetic top-level domain, vectorised; the few
non-ASCII addresses through email-validator (check_deliverability=False), once per unique value.
"""

from __future__ import annotations

import pandas as pd

from leadflow.clean.lists import DISPOSABLE, FREE_MAIL, ROLE_LOCAL_PARTS

# WHATWG "valid e-mail address", tightened: no leading/trailing/double dots in the local part,
# at least one dot in the domain and an alphabetic TLD of 2+ letters.
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL_RE = rf"{_LOCAL}@(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{2,59}})"

# Providers where dots in the local part are ignored by the mailbox.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def _validate_non_ascii(values: pd.Series) -> pd.Series:
    """email-validator on unique non-ASCII values; returns the normalised address or NA."""
    from email_validator import EmailNotValidError, validate_email

    def one(v: str) -> str | None:
        try:
            return validate_email(v, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return None

    uniq = values.drop_duplicates()
    return values.map(dict(zip(uniq, (one(v) for v in uniq))))


def normalise_emails(email: pd.Series) -> pd.DataFrame:
    """email -> email_norm (NA when unusable), email_domain, email_key and flags.

    email_key folds aliases of one mailbox (``+tags`` everywhere, dots at Gmail) for matching;
    email_norm stays the address as written (lower-cased), which is what gets stored.
    """
    s = email.astype("str")
    s = (s.str.strip().str.lower().str.strip("<> \t\"'")
         .str.replace(r"^mailto:", "", regex=True).str.strip())
    s = s.where(s.str.len() > 0)
    ascii_ok = s.str.fullmatch(EMAIL_RE).fillna(False).astype(bool)
    norm = s.where(ascii_ok)
    non_ascii = s.notna() & ~ascii_ok & ~s.str.isascii().fillna(True).astype(bool)
    if non_ascii.any():
        norm = norm.astype(object)
        norm[non_ascii] = _validate_non_ascii(s[non_ascii])
        norm = norm.astype("str")
    norm = norm.astype("str")
    # two regex replaces run in Arrow; rsplit(expand=True) would go through Python per row
    local = norm.str.replace(r"@[^@]*$", "", regex=True)
    domain = norm.str.replace(r"^.*@", "", regex=True)
    base_local = local.str.replace(r"\+.*$", "", regex=True)
    key_domain = domain.replace(_DOTLESS)
    key_local = base_local.where(~domain.isin(list(_DOTLESS)), base_local.str.replace(".", "", regex=False))
    has = norm.notna()
    return pd.DataFrame({
        "email_norm": norm,
        "email_domain": domain,
        "email_local": base_local,
        "email_key": (key_local + "@" + key_domain).where(has),
        "email_valid": has,
        "is_free_mail": domain.isin(FREE_MAIL) & has,
        "is_disposable": domain.isin(DISPOSABLE) & has,
        "is_role_address": base_local.isin(ROLE_LOCAL_PARTS) & has,
    }, index=email.index)
