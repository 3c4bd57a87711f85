"""Email normalisation: one canonical address per mailbox, plus the flags scoring and accounts use.

The address itself is normalised by ``leadflow.vocab.emails`` (shared with ingest, which keys
opt-out signals on it); this module adds the matching key and the flags.

A filler address (``noemail@gmail.com``, ``test@test.com``: ``is_placeholder_address``) is no
address here: strangers type the same one to get past a required field, so as identity it would
merge them all, and as a contact it reaches no one of them. Its normalised fields are NA (the
raw value stays in the landed row); ingest, quality and privacy still read it as written
(``vocab.emails``), so an opt-out or erasure naming it still blocks it.
"""

from __future__ import annotations

import pandas as pd

from leadflow.vocab._unique import per_unique
from leadflow.vocab.emails import normalise_address
from leadflow.vocab.lists import (
    DISPOSABLE,
    FREE_MAIL,
    PLACEHOLDER_DOMAIN_WORDS,
    PLACEHOLDER_LOCAL_PARTS,
    ROLE_LOCAL_PARTS,
)

# Providers where dots in the local part are ignored by the mailbox.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
# one letter or digit three or more times and nothing else (no backreferences: runs in Arrow)
_ONE_CHAR_RUN = "(?:" + "|".join(f"{c}{{3,}}" for c in "abcdefghijklmnopqrstuvwxyz0123456789") + ")"


def is_placeholder(base_local: pd.Series, domain: pd.Series) -> pd.Series:
    """True where a (normalised) address is filler: its local part (``+tag`` removed) without
    separators and trailing digits is a placeholder word or one character repeated, or its
    domain's name is a placeholder word (``test.com``, ``none.co.uk``)."""
    word = base_local.str.replace(r"[._-]|\d+$", "", regex=True)
    filler = word.isin(PLACEHOLDER_LOCAL_PARTS) | word.str.fullmatch(_ONE_CHAR_RUN)
    name = per_unique(domain, lambda d: d.str.replace(r"\..*$", "", regex=True).isin(PLACEHOLDER_DOMAIN_WORDS))
    return (filler.fillna(False).astype(bool) | name.astype(bool)) & base_local.notna()


def normalise_emails(email: pd.Series, filler_is_address: bool = False) -> pd.DataFrame:
    """email -> email_norm (NA when unusable), email_domain, email_key and flags.

    email_key folds aliases of one mailbox (``+tags`` everywhere, dots at Gmail) for matching;
    email_norm stays the address as written (lower-cased), which is what gets stored.
    ``filler_is_address``: read a filler address as any other (privacy: an erasure naming
    one blocks and blanks it wherever it was typed).
    """
    norm = normalise_address(email)
    # two regex replaces run in Arrow; rsplit(expand=True) would go through Python per row
    local = norm.str.replace(r"@[^@]*$", "", regex=True)
    domain = norm.str.replace(r"^.*@", "", regex=True)
    base_local = local.str.replace(r"\+.*$", "", regex=True)
    filler = is_placeholder(base_local, domain)
    if not filler_is_address and filler.any():
        norm, domain, base_local = norm.where(~filler), domain.where(~filler), base_local.where(~filler)
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
        "is_placeholder_address": filler.to_numpy(dtype=bool),
    }, index=email.index)
