"""Standardisation of inbound lead records: every field matching and scoring depend on.

Pure DataFrame -> DataFrame functions, vectorised; libraries that work one value at a time
(phonenumbers, email-validator) run once per unique value. ``standardise_leads`` is the entry
point the identity stage calls.
"""

from __future__ import annotations

import pandas as pd

from leadflow.canonical import FIELDS
from leadflow.clean.names import clean_company, clean_person_name, company_norm, fold
from leadflow.clean.titles import classify_titles, clean_titles
from leadflow.clean.utm import parse_utm
from leadflow.vocab._unique import per_unique
from leadflow.vocab.booleans import opt_out_flags
from leadflow.vocab.datetimes import to_utc
from leadflow.vocab.geo import country_iso2
from leadflow.vocab.mailboxes import normalise_emails
from leadflow.vocab.phones import to_e164

__all__ = ["standardise_leads", "to_utc", "normalise_emails", "to_e164", "country_iso2",
           "classify_titles", "parse_utm", "company_norm", "clean_person_name", "fold"]


def to_bool(s: pd.Series) -> pd.Series:
    """Opt-out style flags as delivered -> bool (True = do not contact), by the shared vocabulary:
    missing is False, a readable word as it says, an unreadable value True (never "contact")."""
    return opt_out_flags(s)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(pd.NA, index=df.index, dtype="object")


# The host of what a website field holds: a URL (any scheme, a port), '//host', an address or
# '@domain' (the part after '@'), a bare domain; 'www.' / 'www2.' and a trailing dot dropped.
_HOST = r"^(?:[a-z][a-z0-9+-]*:)?(?://)?(?:[^@/?#\s]*@)?(?:www\d*\.)?([^/?#:@\s]+?)\.?(?::\d+)?(?:[/?#].*)?$"


def _domain(u: pd.Series) -> pd.Series:
    dom = u.str.strip().str.lower().str.extract(_HOST, expand=False)
    return dom.where(dom.str.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}").fillna(False).astype(bool))


def standardise_leads(df: pd.DataFrame) -> pd.DataFrame:
    """Add/overwrite the standardised columns of an inbound-leads frame (canonical names).

    Adds email_norm, email_domain, email_local, email_key, email_valid, is_free_mail,
    is_role_address, is_disposable, phone_e164, company_norm, seniority, job_function,
    utm_source/utm_medium/utm_campaign/utm_term/utm_content; cleans first_name, last_name,
    company and job_title; country becomes ISO alpha-2 (the raw value is kept in country_raw);
    created_at becomes naive UTC. Missing canonical columns are added empty.
    """
    out = df.copy(deep=False)       # copy-on-write: columns are replaced, never written into
    for name in FIELDS["inbound_leads"]:
        if name not in out.columns:
            out[name] = pd.NA
    em = normalise_emails(out["email"])
    out[em.columns] = em
    out["first_name"] = clean_person_name(out["first_name"])
    out["last_name"] = clean_person_name(out["last_name"])
    out["country_raw"] = out["country"]
    out["country"] = country_iso2(out["country"])
    out["phone_e164"] = to_e164(out["phone"], out["country"])
    out["company"] = clean_company(out["company"])
    out["company_norm"] = company_norm(out["company"])
    out["company_domain"] = per_unique(out["company_domain"], _domain)
    out["job_title"] = clean_titles(out["job_title"])
    out[["seniority", "job_function"]] = classify_titles(out["job_title"])
    utm = parse_utm(_col(out, "landing_url"))
    out[utm.columns] = utm
    out["created_at"] = to_utc(out["created_at"])
    for flag in ("opt_out", "do_not_call"):
        out[flag] = to_bool(out[flag])
    return out
