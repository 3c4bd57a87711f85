"""The canonical vocabulary: field names and allowed values every stage agrees on.

Source column mappings (``leadflow.yaml``) map onto these names; the warehouse schema,
the Great Expectations suites and the stages all use them. Anything a source delivers
that is not canonical is kept in the record's ``attributes`` (a JSON object) so models
can still use it.
"""

from __future__ import annotations

from typing import Final

# Dataset kinds a source can deliver.
KINDS: Final = ("inbound_leads", "touches", "campaign_spend", "crm_outcomes")

LIFECYCLE_STAGES: Final = (
    "suspect", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified",
)

SELLING_STEPS: Final = (
    "prospecting", "pre_approach", "approach", "presentation",
    "meeting_objections", "closing", "follow_up",
)

CHANNELS: Final = (
    "paid_search", "paid_social", "email", "webinar", "trade_show",
    "content_syndication", "organic", "referral", "direct", "other",
)

TOUCH_TYPES: Final = (
    "form_fill", "demo_request", "contact_sales", "webinar", "download", "email_click",
    "email_open", "page_view", "pricing_page", "event_visit", "unsubscribe",
    "pricing_chat",   # a pricing-page chat asking for sales (a hand-raise when configured)
)

# Touch types that make a person a hand-raiser (qualify at once).
HAND_RAISER_TOUCHES: Final = ("demo_request", "contact_sales")

OUTCOME_STATUSES: Final = (
    "accepted", "rejected", "step_reached", "opportunity", "won", "lost",
)

REJECTION_REASONS: Final = (
    "bad_timing", "no_budget", "wrong_person", "duplicate", "not_reachable",
    "not_interested", "competitor", "other",
)

# Canonical fields per kind, with a coarse type: str, int, float, bool, datetime, date.
FIELDS: Final[dict[str, dict[str, str]]] = {
    "inbound_leads": {
        "source_record_id": "str",   # the source's own id for the record
        "email": "str",
        "first_name": "str",
        "last_name": "str",
        "phone": "str",
        "company": "str",
        "company_domain": "str",
        "job_title": "str",
        "industry": "str",
        "company_size": "int",       # employees
        "country": "str",
        "city": "str",
        "lead_source": "str",        # e.g. Google, Webinar, Referral
        "campaign_id": "str",
        "channel": "str",
        "landing_url": "str",
        "created_at": "datetime",
        "opt_out": "bool",           # do-not-email / unsubscribed
        "do_not_call": "bool",
        "converted": "bool",         # known outcome (evaluation files only; after contact)
    },
    "touches": {
        "source_touch_id": "str",
        "source_record_id": "str",
        "crm_id": "str",             # the CRM's record id (a CRM activity feed): pushed or learned
        "email": "str",
        "touch_type": "str",
        "occurred_at": "datetime",
        "campaign_id": "str",
        "channel": "str",
        "url": "str",
    },
    "campaign_spend": {
        "campaign_id": "str",
        "campaign_name": "str",
        "channel": "str",
        "spend_date": "date",
        "amount": "float",
        "currency": "str",
    },
    "crm_outcomes": {
        "source_outcome_id": "str",
        "handoff_id": "int",
        "email": "str",
        "source_record_id": "str",   # the lead's id in its own source (e.g. the MQL id)
        "crm_id": "str",             # the CRM's record id (pushed by leadflow, or learned)
        "status": "str",
        "reason_code": "str",
        "selling_step": "str",
        "amount": "float",
        "occurred_at": "datetime",
    },
}

# Keys an outcome (or a later touch) may use to find its lead, in the order they are tried
# (``Source.match_on`` picks and orders them; default: every one the mapping fills).
MATCH_KEYS: Final = ("handoff_id", "crm_id", "source_record_id", "email")

# Closed lists a source's raw values are mapped onto at ingest (open vocabulary): a value that is
# not on the list after the source's value maps becomes the fallback, and the delivered value is
# kept in the record's attributes as ``<field>_raw`` (reportable, never lost).
CLOSED_LISTS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "channel": (CHANNELS, "other"),
}

# Fields whose values are codes: a delivered value is read in the codes' spelling (trimmed,
# lower case, underscores: "Step Reached" -> step_reached) before it is checked against its list.
CODE_FIELDS: Final = ("status", "reason_code", "selling_step", "touch_type")
# Mapping targets that are not stored themselves but fill canonical fields: a full name in one
# column fills the given and family name (where the source does not deliver those apart).
SPLIT_FIELDS: Final[dict[str, tuple[str, ...]]] = {"full_name": ("first_name", "last_name")}

# What separates a code's words as typed; each run becomes one underscore.
CODE_SEPARATORS: Final = r"[\s\-/]+"

# Fields that identify a row within its source (used for unique-key checks).
# Counts exports may write as bands ('51-200', '10,001+'), read as a head count at ingest.
BAND_FIELDS: Final = ("company_size",)

KEYS: Final[dict[str, tuple[str, ...]]] = {
    "inbound_leads": ("source_record_id",),
    "touches": ("source_touch_id",),
    "campaign_spend": ("campaign_id", "spend_date"),
    "crm_outcomes": ("source_outcome_id",),
}

# Lineage columns every landed row carries.
LINEAGE: Final = ("source", "batch_id", "row_number", "loaded_at")
