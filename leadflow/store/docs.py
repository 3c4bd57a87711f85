"""Render docs/schema.md from the schema itself, so the documentation cannot drift.

    python -m leadflow.store.docs > docs/schema.md
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from leadflow.store.schema import metadata

PURPOSE = {
    "ingest_batches": ("One row per delivery (file, query window or API pull): content hash, counts, status; "
                       "`validated_at`: the quality step validated it (its rows still `landed` have passed)."),
    "stg_inbound_leads": ("Every delivered lead row as landed, with lineage and its `state` (`landed` in a validated "
                          "batch = passed: leadflow/store/rowstate.py)."),
    "stg_touches": "Every delivered engagement event as landed.",
    "stg_campaign_spend": "Every delivered spend row as landed.",
    "stg_crm_outcomes": "Every delivered CRM outcome as landed.",
    "quarantine": "Rows set aside with their reasons (ingest parse errors, failed expectations, unmatched outcomes); "
                  "worked with `leadflow quarantine`.",
    "campaigns": "Campaign master: id, name, channel.",
    "person_keys": "Each person's blocking keys as 64-bit hashes (no clear text), so a day's load reads only the "
                   "people its records can meet; rewritten with every people insert or update, deleted on erasure.",
    "person_keys_recent": "Blocking keys written since they were last merged into `person_keys` (the same columns): "
                          "a day's keys go here and move there in one sorted insert once they outnumber the people, "
                          "so a load does not rewrite the large key index every day. Read with it; deleted on erasure.",
    "campaign_spend": "Spend per campaign per day (later deliveries correct earlier ones).",
    "accounts": "Companies, keyed by business domain; carry the owning rep for routing.",
    "people": "One golden record per person (lead/contact) with lifecycle stage and cycle.",
    "person_records": "Which landed record formed which person, by which rule and score.",
    "contact_blocks": "Opt-out signals from any delivered record (landed, quarantined, rejected at ingest, "
                      "unsubscribe touches), by SHA-256 of the address; a person stays suppressed until the block "
                      "is released.",
    "merges": "Merge history (reversible with `leadflow people unmerge`).",
    "match_reviews": "Uncertain duplicate pairs waiting for a person to decide.",
    "tombstones": "Right to erasure: keyed SHA-256 hashes of erased people's address, phone and record ids "
                  "(no clear text); matching rows are suppressed at landing and load.",
    "touches": "Engagement events attached to the resolved person.",
    "scores": ("Fit grade, engagement and rule score, model probability and reasons, per person and day the "
               "person was scored: the day's new or changed people, plus those who could still qualify "
               "(`score_watch`); a person's current score is their latest row."),
    "contact_changes": ("People whose contact standing may have changed since a run last looked, queued by "
                        "database triggers (migration 0019): a flag or address of theirs changed, a block on "
                        "one of their addresses, a record or handoff came to them. `withdraw_blocked` checks "
                        "only these people's open handoffs and deletes what it settled."),
    "score_watch": ("People whose score could still qualify them without new input (`ceiling`: the best rule "
                    "score their touches can give as they age): rescored every day until it cannot."),
    "score_runs": ("One row per scoring run and partition: its `as_of`, the touches it had seen "
                   "(`max_touch_id`) and the `fingerprint` of what a score meant (config, model, code); a new "
                   "fingerprint rescores everyone once."),
    "lifecycle_events": "Every lifecycle transition with time, reason and run id.",
    "suppressions": "Qualified people who were not handed off, and why.",
    "handoffs": "The sales queue: one row per person per cycle, owner, why, SLA.",
    "handoff_notifications": "Speed to lead: one assignment notification per handoff and channel (email, "
                             "Slack) for the assigned rep, held until their working hours; pending, sending, "
                             "sent, failed or cancelled.",
    "email_outbox": "Lead-list emails, one per rep, list date and list content (hash): pending, sending, sent or "
                    "failed; a re-run never re-sends an unchanged list.",
    "crm_outbox": "CRM pushes (reverse ETL), one per destination, handoff and action (upsert, withdraw, "
                  "or task: the HubSpot owner task): status, attempts, the CRM id returned (contact, Lead or "
                  "task) and the last error.",
    "outcomes": "Sales feedback per handoff: accepted/rejected, selling step reached, won/lost, amount.",
    "pipeline_runs": "Per run and step: status (`running` from its start; `interrupted` when its "
                     "process died), counts, message; `run_date` is the logical day, `started_at`/"
                     "`finished_at` the real (wall-clock, UTC) times.",
    "run_locks": "Who holds the warehouse's run lock (one run at a time); the lock itself is an "
                 "OS file lock (SQLite) or an advisory lock (PostgreSQL), freed when its process dies.",
    "models": "Model registry: version, training window, features, metrics, artifact, status, leakage review.",
    "model_monitoring": "Weekly checks of the live model on realised outcomes: PSI, calibration, AUC, alerts.",
}


def render() -> str:
    out = ["# Warehouse schema", "",
           "Generated from `leadflow/store/schema.py` by `python -m leadflow.store.docs`; "
           "identical on SQLite and PostgreSQL. Created by `leadflow init`.", ""]
    for name in metadata.tables:
        t = metadata.tables[name]
        out += [f"## `{name}`", "", PURPOSE.get(name, ""), "",
                "| column | type | null | key |", "|---|---|---|---|"]
        uniques = sorted((c for c in t.constraints if isinstance(c, sa.UniqueConstraint)
                          and len(c.columns) > 1), key=lambda u: [c.name for c in u.columns])
        for c in t.columns:
            key = "PK" if c.primary_key else ("unique" if c.unique else "")
            key += " FK→" + next(iter(c.foreign_keys)).target_fullname if c.foreign_keys else ""
            out.append(f"| {c.name} | {c.type.compile(dialect=sqlite.dialect())} | "
                       f"{'yes' if c.nullable else 'no'} | {key.strip()} |")
        for u in uniques:
            out.append("")
            out.append(f"Unique: ({', '.join(c.name for c in u.columns)})")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
