"""The warehouse schema, defined once (SQLAlchemy Core) for SQLite and PostgreSQL.

Layers, in the order data flows:
- ``ingest_batches`` and the ``stg_*`` tables: every delivered row, as landed, with lineage
  (source, batch, row number, load time) and a ``state`` telling where it ended up.
- ``quarantine`` and ``suppressions``: rows set aside, each with its reasons.
- core entities: ``campaigns``, ``campaign_spend``, ``accounts``, ``people``,
  ``person_records`` (+ ``merges``, ``match_reviews``), ``touches``.
- decisions: ``scores``, ``lifecycle_events``, ``handoffs`` (the sales queue), ``outcomes``.
- operations: ``pipeline_runs``, ``run_locks``, ``models``.

Documented column by column in docs/schema.md.
"""

from __future__ import annotations

import sqlalchemy as sa

from leadflow.canonical import FIELDS, KEYS

metadata = sa.MetaData()
# Money is exact in the warehouse (sums of spend and revenue add up to the cent); Python reads
# it as float, the same on both backends (reports work in cents).
MONEY = sa.Numeric(14, 2, asdecimal=False)

_TYPES = {
    "str": sa.Text,
    "int": sa.BigInteger,
    "float": sa.Float,
    "bool": sa.Boolean,
    "datetime": sa.DateTime,
    "date": sa.Date,
}

# Row states in staging tables: where each delivered row ended up.
ROW_STATES = ("landed", "passed", "quarantined", "loaded", "suppressed", "discarded")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


ingest_batches = sa.Table(
    "ingest_batches", metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),             # file name, query or URL (no secrets)
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("rows_in", sa.Integer, nullable=False, default=0),
    sa.Column("rows_landed", sa.Integer, nullable=False, default=0),
    sa.Column("rows_rejected", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.Text, nullable=False),          # landing | landed | processed | failed
    sa.Column("business_date", sa.Date),                   # the day the delivery belongs to
    sa.Column("watermark", sa.Text),                       # incremental sources: high-water mark
    sa.Column("validated_at", sa.DateTime),                # quality step: its landed rows passed
    sa.Column("note", sa.Text),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("source", "content_hash", name="uq_batch_source_hash"),
)


def _staging(kind: str) -> sa.Table:
    cols = [sa.Column(name, _TYPES[t]()) for name, t in FIELDS[kind].items()]
    return sa.Table(
        f"stg_{kind}", metadata,
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("ingest_batches.batch_id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),  # 1-based data row in the delivery
        sa.Column("loaded_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.Text, nullable=False, default="landed"),
        *cols,
        sa.Column("attributes", sa.JSON),                     # non-canonical fields, as delivered
        sa.Column("state_reason", sa.Text),                   # why suppressed / quarantined later
        sa.PrimaryKeyConstraint("batch_id", "row_number", name=f"pk_stg_{kind}"),
        sa.Index(f"ix_stg_{kind}_state", "state"),
        # quality's "already accepted" lookup of a batch's keys (quality/params.loaded_keys)
        *([sa.Index(f"ix_stg_{kind}_key", "source", KEYS[kind][0])] if kind in KEYED_STAGING else []),
    )


KEYED_STAGING = ("touches", "crm_outcomes")


stg_inbound_leads = _staging("inbound_leads")
stg_touches = _staging("touches")
stg_campaign_spend = _staging("campaign_spend")
stg_crm_outcomes = _staging("crm_outcomes")
STAGING = {
    "inbound_leads": stg_inbound_leads,
    "touches": stg_touches,
    "campaign_spend": stg_campaign_spend,
    "crm_outcomes": stg_crm_outcomes,
}

# Rows that failed at ingest (unparseable, missing mapped column) or at quality checks.
quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),           # ingest | quality | feedback
    sa.Column("record", sa.JSON, nullable=False),          # the original record
    sa.Column("reasons", sa.JSON, nullable=False),         # list of expectation names / reasons
    sa.Column("status", sa.Text, nullable=False, default="open"),  # open | released | discarded
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("resolved_by", sa.Text),
    sa.Column("resolution_note", sa.Text),
    # ingest: sha256 of (source, kind, stage, record, reasons), so a re-delivered record with the
    # same problem is one entry; NULL (never colliding) for the later stages, keyed by their row
    sa.Column("record_key", sa.Text),
    sa.UniqueConstraint("kind", "batch_id", "row_number", name="uq_quarantine_row"),
    sa.UniqueConstraint("source", "stage", "record_key", name="uq_quarantine_record"),
)

campaigns = sa.Table(
    "campaigns", metadata,
    sa.Column("campaign_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("channel", sa.Text),
    sa.Column("first_seen", sa.Date),
)

campaign_spend = sa.Table(
    "campaign_spend", metadata,
    sa.Column("campaign_id", sa.Text, sa.ForeignKey("campaigns.campaign_id"), nullable=False),
    sa.Column("spend_date", sa.Date, nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("currency", sa.Text),
    sa.Column("batch_id", sa.Integer),
    sa.PrimaryKeyConstraint("campaign_id", "spend_date", name="pk_campaign_spend"),
)

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("domain", sa.Text, unique=True),
    sa.Column("name", sa.Text),
    sa.Column("name_norm", sa.Text, index=True),
    sa.Column("industry", sa.Text),
    sa.Column("company_size", sa.BigInteger),
    sa.Column("country", sa.Text),
    sa.Column("owner_rep", sa.Text),                       # used first by routing
    sa.Column("is_customer", sa.Boolean, default=False),
    sa.Column("has_open_deal", sa.Boolean, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

people = sa.Table(
    "people", metadata,
    sa.Column("person_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email_norm", sa.Text, unique=True),         # NULL when no usable email
    sa.Column("email_hash", sa.Text, index=True),          # sha256(email_norm): the contact-block key
    sa.Column("source_key", sa.Text, unique=True),         # source:record id, for email-less sources
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("phone_e164", sa.Text),
    sa.Column("company", sa.Text),
    sa.Column("company_norm", sa.Text),
    sa.Column("job_title", sa.Text),
    sa.Column("seniority", sa.Text),
    sa.Column("job_function", sa.Text),
    sa.Column("industry", sa.Text),
    sa.Column("company_size", sa.BigInteger),
    sa.Column("country", sa.Text),                         # ISO 3166 alpha-2
    sa.Column("city", sa.Text),
    sa.Column("is_free_mail", sa.Boolean, default=False),
    sa.Column("is_role_address", sa.Boolean, default=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.account_id")),
    sa.Column("account_match", sa.Text),                   # domain | name | ambiguous | none
    sa.Column("lifecycle_stage", sa.Text, nullable=False, default="lead"),
    sa.Column("cycle", sa.Integer, nullable=False, default=1),
    sa.Column("opt_out", sa.Boolean, nullable=False, default=False),
    sa.Column("do_not_contact", sa.Boolean, nullable=False, default=False),
    sa.Column("is_competitor", sa.Boolean, nullable=False, default=False),
    sa.Column("erased_at", sa.DateTime),                   # right to erasure: PII blanked
    sa.Column("first_source", sa.Text),
    sa.Column("first_campaign_id", sa.Text),
    sa.Column("first_channel", sa.Text),
    sa.Column("attributes", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_people_updated", "updated_at"),   # scoring: people whose inputs changed
    sa.Index("ix_people_created", "created_at"),   # scoring: people who became active (future-dated)
)

# Each landed lead record and the person it resolved to: the merge history's basis.
person_records = sa.Table(
    "person_records", metadata,
    sa.Column("record_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.person_id"), nullable=False),
    sa.Column("match_rule", sa.Text, nullable=False),      # new | email | source_key | fuzzy:<rule>
    sa.Column("match_score", sa.Float),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("source_record_id", sa.Text),                # the source's own id (touches link by it)
    sa.Column("email_norm", sa.Text),                      # the record's address (aliases match exactly)
    sa.Column("email_hash", sa.Text, index=True),          # sha256(email_norm): the contact-block key
    # hash of the landed values: the same source record re-delivered unchanged is loaded once
    sa.Column("record_hash", sa.Text),
    sa.UniqueConstraint("batch_id", "row_number", name="uq_person_record_row"),
    sa.UniqueConstraint("source", "source_record_id", "record_hash", name="uq_person_record_source"),
    sa.Index("ix_person_records_person", "person_id"),
    sa.Index("ix_person_records_email", "email_norm"),
    sa.Index("ix_person_records_source_id", "source", "source_record_id"),
)

def _keys(name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("key_hash", sa.BigInteger, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "person_id", name=f"pk_{name}"),
        sa.Index(f"ix_{name}_person", "person_id"),
    )


# Blocking keys of each person as 64-bit hashes (leadflow.identity.keys): a day's load reads only
# the people its records share a block with, through this index, instead of every person.
person_keys = _keys("person_keys")
# The keys written since ``person_keys`` was last merged with them (identity.store.write_keys):
# a day's new keys land in this small table instead of scattering over the large one's index
# (which rewrote most of its pages every day), and move there in one sorted insert once they
# number more rows than the warehouse has people. Lookups read both tables.
person_keys_recent = _keys("person_keys_recent")

# Right to erasure: keyed SHA-256 hashes (key from $LEADFLOW_HASH_KEY) of an erased
# person's identifiers, by kind: email_norm_untagged (the address without +tags, Gmail dots),
# phone_e164, source_record_id (source and the source's own id). A landing row or a record
# matching any of them is suppressed (reason 'erased') and blanked. No clear text is stored.
tombstones = sa.Table(
    "tombstones", metadata,
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("value_hash", sa.Text, nullable=False),
    sa.Column("erased_at", sa.DateTime, nullable=False),
    sa.PrimaryKeyConstraint("kind", "value_hash", name="pk_tombstones"),
)

# Opt-out signals seen on any delivered record, kept even when the record itself was rejected at
# ingest or quarantined, so the person is suppressed until someone releases the block. Keyed by
# the source record (a re-run adds nothing); the address only as its SHA-256 (no PII).
contact_blocks = sa.Table(
    "contact_blocks", metadata,
    sa.Column("block_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email_hash", sa.Text, nullable=False),     # sha256 of the normalised address
    sa.Column("signal", sa.Text, nullable=False),         # opt_out | do_not_contact | unsubscribe
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("released_at", sa.DateTime),                # a person decided contact is allowed
    sa.Column("released_by", sa.Text),
    sa.Column("release_note", sa.Text),
    # one block per address a row lists (a field of several addresses: migration 0025)
    sa.UniqueConstraint("kind", "batch_id", "row_number", "signal", "email_hash", name="uq_contact_block_row_address"),
    sa.Index("ix_contact_blocks_hash", "email_hash"),
)

merges = sa.Table(
    "merges", metadata,
    sa.Column("merge_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("survivor_id", sa.Integer, nullable=False),
    sa.Column("merged_id", sa.Integer, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("run_id", sa.Text),
    sa.Column("merged_at", sa.DateTime, nullable=False),
    sa.Column("undone_at", sa.DateTime),
)

match_reviews = sa.Table(
    "match_reviews", metadata,
    sa.Column("review_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_a", sa.Integer, nullable=False),
    sa.Column("person_b", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("evidence", sa.JSON),
    sa.Column("status", sa.Text, nullable=False, default="open"),  # open | merged | rejected
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("person_a", "person_b", name="uq_match_review_pair"),
)

touches = sa.Table(
    "touches", metadata,
    sa.Column("touch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_touch_id", sa.Text, nullable=False),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.person_id")),
    sa.Column("touch_type", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("campaign_id", sa.Text),
    sa.Column("channel", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("batch_id", sa.Integer),
    sa.Column("row_number", sa.Integer),
    sa.UniqueConstraint("source", "source_touch_id", name="uq_touch_source_id"),
    sa.Index("ix_touches_person", "person_id", "occurred_at"),
    sa.Index("ix_touches_type", "touch_type", "occurred_at"),   # the queue's hand-raisers
    sa.Index("ix_touches_occurred", "occurred_at"),   # scoring: touches that became visible today
)

scores = sa.Table(
    "scores", metadata,
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("score_date", sa.Date, nullable=False),
    sa.Column("fit_points", sa.Float, nullable=False),
    sa.Column("grade", sa.Text, nullable=False),           # A-D
    sa.Column("engagement_points", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),          # the rule score, 0-100
    sa.Column("probability", sa.Float),                    # model probability, when a model is live
    sa.Column("model_version", sa.Text),
    sa.Column("reasons", sa.JSON),                         # top reasons, in a rep's words
    sa.Column("run_id", sa.Text),
    sa.PrimaryKeyConstraint("person_id", "score_date", name="pk_scores"),
    sa.Index("ix_scores_date", "score_date"),    # the queue: today's scores, not every day's
)

# People whose rule score (or probability) could still qualify them with no new input: the
# daily scoring step rescores them beside the people whose inputs changed (issue 17). ``ceiling``
# is the highest rule score their current touches can give as they age (negative points fade).
score_watch = sa.Table(
    "score_watch", metadata,
    sa.Column("person_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("score_date", sa.Date, nullable=False),
    sa.Column("ceiling", sa.Float, nullable=False),
    sa.Column("probability", sa.Float),
)

# One row per scoring run (date and partition): what the next day's run starts from.
score_runs = sa.Table(
    "score_runs", metadata,
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("part", sa.Text, nullable=False),             # "score" or "score:k/n"
    sa.Column("as_of", sa.DateTime, nullable=False),
    sa.Column("max_touch_id", sa.BigInteger, nullable=False),   # touches inserted before the run
    sa.Column("fingerprint", sa.Text, nullable=False),      # scoring config + model: what a score means
    sa.Column("mode", sa.Text, nullable=False),             # full | incremental
    sa.Column("scored", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Text),
    sa.PrimaryKeyConstraint("run_date", "part", name="pk_score_runs"),
)

lifecycle_events = sa.Table(
    "lifecycle_events", metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("from_stage", sa.Text),
    sa.Column("to_stage", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text),
    sa.UniqueConstraint("person_id", "cycle", "to_stage", name="uq_lifecycle_step"),
)

suppressions = sa.Table(
    "suppressions", metadata,
    sa.Column("suppression_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),          # opt_out | do_not_contact | erased | ...
    sa.Column("run_id", sa.Text),
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("person_id", "cycle", "run_date", name="uq_suppression"),
)

# People whose contact standing may have changed since a run last looked: a flag set (opt-out,
# do not contact, erasure), a new address, a block on one of their addresses, a record joining
# them, a handoff created or moved to them. Filled by database triggers (migration 0019), so no
# writer can forget it; ``handoff.withdraw.withdraw_blocked`` checks just these people's open
# handoffs and deletes the rows it settled: the withdrawal follows the day's changes, not the
# warehouse's open handoffs.
contact_changes = sa.Table(
    "contact_changes", metadata,
    sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.Integer, nullable=False),
)

# The SLA breach flag's two searches (``handoff.enqueue.flag_breaches``), as partial indexes: each
# holds only the handoffs that can still breach (unflagged, no first action yet / acted late), not
# the history, so the daily flagging reads what is open. The statements repeat these predicates
# word for word (SQLite uses a partial index only when the query names its terms).
SLA_WAITING = "NOT sla_breached AND first_action_at IS NULL"
SLA_LATE = "NOT sla_breached AND first_action_at > sla_due_at"

handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("handoff_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("owner_rep", sa.Text, nullable=False),       # a rep id, or the fallback queue
    sa.Column("route_rule", sa.Text, nullable=False),      # account_owner | territory:<name> | round_robin | fallback
    sa.Column("route_reason", sa.JSON),                    # why this owner, alternatives skipped
    sa.Column("qualified_by", sa.Text, nullable=False),    # threshold | hand_raiser | probability
    sa.Column("score", sa.Float),
    sa.Column("grade", sa.Text),
    sa.Column("probability", sa.Float),
    sa.Column("priority", sa.Float),
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("run_id", sa.Text),
    sa.Column("handed_off_at", sa.DateTime, nullable=False),
    sa.Column("sla_due_at", sa.DateTime),
    sa.Column("sla_breached", sa.Boolean, nullable=False, default=False),
    sa.Column("first_action_at", sa.DateTime),             # first sales feedback (speed-to-lead)
    sa.Column("status", sa.Text, nullable=False, default="queued"),
    sa.UniqueConstraint("person_id", "cycle", name="uq_handoff_person_cycle"),
    sa.Index("ix_handoffs_owner", "owner_rep", "run_date"),
    sa.Index("ix_handoffs_sla_waiting", "sla_due_at", sqlite_where=sa.text(SLA_WAITING),
             postgresql_where=sa.text(SLA_WAITING)),
    sa.Index("ix_handoffs_sla_late", "handoff_id", sqlite_where=sa.text(SLA_LATE),
             postgresql_where=sa.text(SLA_LATE)),
)

email_outbox = sa.Table(
    "email_outbox", metadata,
    sa.Column("outbox_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rep", sa.Text, nullable=False),             # rep id, owner of the list
    sa.Column("list_date", sa.Date, nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),    # sha256 of the list's rows (not of files or run ids)
    sa.Column("leads", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, default="list"),       # list | update (an earlier version was sent)
    sa.Column("status", sa.Text, nullable=False, default="pending"),  # pending | sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_id", sa.Text),                          # the run that last claimed it
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("error", sa.Text),                           # last failure, one line, no recipients
    sa.UniqueConstraint("rep", "list_date", "content_hash", name="uq_outbox_rep_date_hash"),
)

# Speed to lead: one assignment notification per (handoff, channel), sent to the rep at once
# (or held until their working hours); claimed with a lease like the email outbox (store/outbox.py).
handoff_notifications = sa.Table(
    "handoff_notifications", metadata,
    sa.Column("notification_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.Integer, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),         # email | slack
    sa.Column("owner_rep", sa.Text, nullable=False),       # the handoff's owner
    sa.Column("recipient_rep", sa.Text, nullable=False),   # the owner, or the on-call rep out of hours
    sa.Column("requested_at", sa.DateTime),                # the prospect's request (start of the SLA clock)
    sa.Column("sla_due_at", sa.DateTime),
    sa.Column("not_before", sa.DateTime, nullable=False),  # held until the rep's working hours
    sa.Column("status", sa.Text, nullable=False, default="pending"),  # pending | sending | sent | failed | cancelled
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_id", sa.Text),                          # the run that last claimed it
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("error", sa.Text),                           # last failure, one line, no recipients
    sa.UniqueConstraint("handoff_id", "channel", name="uq_notification_handoff_channel"),
    sa.Index("ix_notifications_status", "status", "not_before"),
)

# Reverse ETL to CRMs: one row per (destination, handoff, action). Pushes are upserts by key, so
# a re-sent row never creates a second CRM record; the CRM's id is kept to match outcomes back.
crm_outbox = sa.Table(
    "crm_outbox", metadata,
    sa.Column("crm_outbox_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("destination", sa.Text, nullable=False),     # crm.destinations[].name
    sa.Column("handoff_id", sa.Integer, nullable=False),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("action", sa.Text, nullable=False),          # upsert | withdraw | task (HubSpot owner task)
    # pending | sending | pushed | rejected | failed | cancelled
    sa.Column("status", sa.Text, nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("crm_id", sa.Text),                          # CRM record id (HubSpot contact or task, Salesforce Lead)
    sa.Column("created_in_crm", sa.Boolean),               # the push created the record (else updated it)
    sa.Column("error", sa.Text),                           # last error, one line, no PII or token
    sa.Column("run_id", sa.Text),                          # the run that last claimed it
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("pushed_at", sa.DateTime),
    sa.UniqueConstraint("destination", "handoff_id", "action", name="uq_crm_outbox_dest_handoff_action"),
    sa.Index("ix_crm_outbox_status", "destination", "status"),
    sa.Index("ix_crm_outbox_crm_id", "destination", "crm_id"),
)

outcomes = sa.Table(
    "outcomes", metadata,
    sa.Column("outcome_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_outcome_id", sa.Text, nullable=False),
    sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.handoff_id"), nullable=False),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason_code", sa.Text),
    sa.Column("selling_step", sa.Text),
    sa.Column("amount", MONEY),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("batch_id", sa.Integer),
    sa.Column("row_number", sa.Integer),
    sa.Column("match_rule", sa.Text),                      # the key that found the lead (MATCH_KEYS)
    sa.Column("crm_id", sa.Text),                          # the CRM's id on the outcome: learned for later ones
    sa.UniqueConstraint("source", "source_outcome_id", name="uq_outcome_source_id"),
    sa.Index("ix_outcomes_crm_id", "crm_id"),
)

pipeline_runs = sa.Table(
    "pipeline_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("job", sa.Text, nullable=False),             # dag id or CLI command
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("run_date", sa.Date),
    sa.Column("status", sa.Text, nullable=False),  # running | success | warning | failed | interrupted
    sa.Column("started_at", sa.DateTime, nullable=False),  # wall clock (UTC); run_date is the logical day
    sa.Column("finished_at", sa.DateTime),                 # wall clock (UTC); null while running
    sa.Column("counts", sa.JSON),
    sa.Column("message", sa.Text),
    sa.Index("ix_pipeline_runs_run", "run_id", "task"),
)

# Who holds the warehouse's run lock (see store/locks.py). The lock itself is an OS file lock
# (SQLite) or a session advisory lock (PostgreSQL), released when its process dies; this row
# only names the holder for "waiting for run X" and ``leadflow status``.
run_locks = sa.Table(
    "run_locks", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("task", sa.Text),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),   # wall clock (UTC)
)

models = sa.Table(
    "models", metadata,
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("algorithm", sa.Text, nullable=False),
    sa.Column("trained_at", sa.DateTime, nullable=False),
    sa.Column("window_start", sa.Date),
    sa.Column("window_end", sa.Date),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("holdout", sa.JSON),                          # how to rebuild the holdout it was judged on
    sa.Column("artifact_path", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),          # candidate | promoted | retired
    sa.Column("leakage", sa.JSON),                          # audit findings + clear/refused/confirmed (who, when)
)

# Weekly checks of a live model on realised outcomes (leadflow.score.monitor): one row per
# model version and week; re-running a week rewrites it.
model_monitoring = sa.Table(
    "model_monitoring", metadata,
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("week_start", sa.Date, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    sa.Column("scored", sa.Integer, nullable=False),        # leads scored by the model that week
    sa.Column("closed", sa.Integer, nullable=False),        # handoffs whose outcome closed that week
    sa.Column("roc_auc", sa.Float),                         # on the closed cohort (None: too few / one class)
    sa.Column("calibration_error", sa.Float),
    sa.Column("psi_score", sa.Float),                       # scores vs the training window
    sa.Column("metrics", sa.JSON, nullable=False),          # calibration by band, PSI per feature
    sa.Column("alerts", sa.JSON, nullable=False),           # plain-words alerts ([] = healthy)
    sa.PrimaryKeyConstraint("version", "week_start", name="pk_model_monitoring"),
)
