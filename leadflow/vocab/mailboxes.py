"""Email normalisation: one canonical address per mailbox, plus the flags scoring and accounts use.

The address itself is normalised by ``leadflow.vocab.emails`` (shared with ingest, which keys
opt-out signals on it); this module adds the matching key and the flags.
"""

from __future__ import annotations

import pandas as pd

from leadflow.vocab.emails import normalise_address
from leadflow.vocab.lists import DISPOSABLE, FREE_MAIL, ROLE_LOCAL_PARTS

# Providers where dots in the local part are ignored by the mailbox.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def normalise_emails(email: pd.Series) -> pd.DataFrame:
    """email -> email_norm (NA when unusable), email_domain, email_key and flags.

    email_key folds aliases of one mailbox (``+tags`` everywhere, dots at Gmail) for matching;
    email_norm stays the address as written (lower-cased), which is what gets stored.
    """
    norm = normalise_address(email)
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
