"""Golden records: one row per person from all of its records, by survivorship rules.

Rules, per field: the value most of the person's records agree on wins; ties go to the most
trusted source (``Source.priority``, lower wins), then to the most recent record (``created_at``,
else load time); junk values never win (``survivorship``). Flags are sticky: an opt-out or
do-not-call seen on any record wins and a later record cannot undo it (there is no consent
field in the feeds to undo it with). The earliest record gives first_source /
first_campaign_id / first_channel (attribution).
"""

from __future__ import annotations

import pandas as pd

from leadflow.identity import survivorship
from leadflow.identity.evidence import JUNK_COLS
from leadflow.vocab.mailboxes import normalise_emails

SURVIVING = ("email_norm", "first_name", "last_name", "phone_e164", "company", "company_norm",
             "company_domain", "job_title", "seniority", "job_function", "industry", "company_size",
             "country", "city", "attributes")


def golden(records: pd.DataFrame, key: str = "pkey") -> pd.DataFrame:
    """records: standardised rows with ``key``, ``priority``, ``record_time``, source, campaign_id,
    channel, opt_out, do_not_call and the SURVIVING fields. Returns one row per key (the index)."""
    cols = [c for c in SURVIVING if c in records.columns]
    # only the columns read here are sorted: a sorted copy of every column of a first load's
    # records was the load step's largest allocation (about 400 MiB at 300k leads)
    voting = [key, "priority", "record_time", "opt_out", "do_not_call", *cols,
              *(c for c in JUNK_COLS if c in records.columns)]
    r = records[list(dict.fromkeys(voting))].sort_values([key, "priority", "record_time"],
                                                         ascending=[True, True, False], kind="stable")
    g = r.groupby(key, sort=False)
    out = survivorship.vote(r, key, cols)[0].reindex(g.size().index)   # majority, junk never wins
    out["opt_out"] = g["opt_out"].max().astype(bool)
    out["do_not_contact"] = g["do_not_call"].max().astype(bool)
    first = [c for c in ("source", "campaign_id", "channel") if c in records.columns]
    early = records[[key, "record_time", *first]].sort_values([key, "record_time"], kind="stable") \
        .groupby(key, sort=False)
    out["first_source"] = early["source"].first()
    out["first_campaign_id"] = early["campaign_id"].first() if "campaign_id" in first else None
    out["first_channel"] = early["channel"].first() if "channel" in first else None
    out["n_records"] = g.size()
    em = normalise_emails(out["email_norm"])
    out["email_domain"] = em["email_domain"]
    out["is_free_mail"] = em["is_free_mail"]
    out["is_role_address"] = em["is_role_address"]
    out["is_disposable"] = em["is_disposable"]
    return out
