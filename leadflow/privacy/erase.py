"""Right to erasure (GDPR art. 17 / CCPA deletion): ``leadflow people erase --email X``.

In one transaction: the subject's (``subject.find``) personal fields are blanked in every table
that holds them (people, person records, landed rows of every kind, quarantined records,
touch URLs, score reasons), the people are marked erased (opt-out, do-not-contact, never
handed off again), and a tombstone of keyed hashes (every address key, phone and source record
id of theirs) blocks them from coming back. Ids, states and counts stay, so the books still
balance. Then the files leadflow wrote (lead lists, report extracts, Data Docs and other
pages) are rewritten without them (``files``). Returns counts per table and per file; no values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.context import RunContext
from leadflow.identity.store import delete_keys
from leadflow.privacy import files, subject, tombstones
from leadflow.privacy.guard import PII_COLUMNS
from leadflow.privacy.hashing import hash_key
from leadflow.store import db
from leadflow.store.schema import STAGING, people, person_records, quarantine, scores, touches

PEOPLE_BLANK = {c: None for c in ("email_norm", "source_key", "first_name", "last_name", "phone_e164",
                                   "company", "company_norm", "job_title", "city", "attributes")}


def _blank_rows(conn: Connection, table: sa.Table, rows: pd.DataFrame, cols: tuple[str, ...]) -> int:
    """Set ``cols`` to NULL on the given (batch_id, row_number) rows (set-based, ``copy_update``)."""
    if rows.empty:
        return 0
    keys = rows[["batch_id", "row_number"]].astype("int64").reset_index(drop=True)
    blank = [c for c in cols if c in table.c]
    db.copy_update(conn, table, keys.assign(**{c: None for c in blank}), key=["batch_id", "row_number"],
                   columns=blank)
    # rows not processed yet would otherwise go on as blank rows (a ghost person): suppressed now
    db.copy_update(conn, table, keys.assign(state="suppressed", state_reason="erased"),
                   key=["batch_id", "row_number"], columns=["state", "state_reason"],
                   where=f"{table.name}.state IN ('landed', 'passed')")
    return len(keys)


def erase(ctx: RunContext, email: str, at: datetime | None = None) -> dict[str, Any]:
    """Erase the person behind ``email`` everywhere (see module doc)."""
    at = at or ctx.as_of
    key = hash_key(ctx.settings)
    counts: dict[str, int] = {}
    with ctx.engine.begin() as conn:
        sub = subject.find(conn, ctx.settings, email)
        ids = sub.person_ids
        for kind, df in sub.staging.items():
            cols = ("email",) if sub.filler else PII_COLUMNS[kind]    # a filler: only the address
            counts[STAGING[kind].name] = _blank_rows(conn, STAGING[kind], df, cols)
        q = sub.quarantine
        if len(q):
            qids = [int(x) for x in q["quarantine_id"]]
            conn.execute(sa.update(quarantine).where(quarantine.c.quarantine_id.in_(qids))
                         .values(record={"erased": True}))
            conn.execute(sa.update(quarantine).where(quarantine.c.quarantine_id.in_(qids),
                                                     quarantine.c.status == "open")
                         .values(status="discarded", resolved_at=at, resolved_by="erasure",
                                 resolution_note="erased"))
        counts["quarantine"] = len(q)
        if ids:
            counts["people"] = conn.execute(sa.update(people).where(people.c.person_id.in_(ids)).values(
                **db.with_derived(people, **PEOPLE_BLANK, opt_out=True, do_not_contact=True, erased_at=at,
                                  updated_at=at))).rowcount
            counts["person_records"] = conn.execute(
                sa.update(person_records).where(person_records.c.person_id.in_(ids))
                .values(**db.with_derived(person_records, email_norm=None, source_record_id=None))).rowcount
            counts["touches"] = conn.execute(sa.update(touches).where(touches.c.person_id.in_(ids))
                                             .values(url=None)).rowcount
            counts["scores"] = conn.execute(sa.update(scores).where(scores.c.person_id.in_(ids))
                                            .values(reasons=None)).rowcount
            delete_keys(conn, ids)                               # hashed PII, in both key tables
        counts["tombstones"] = tombstones.add(conn, {
            "email_norm_untagged": sub.email_keys, "phone_e164": sub.phones,
            "source_record_id": sub.record_keys}, key, at)
    written = files.scrub(ctx.settings, sub)
    return {"person_ids": ids, "tables": {k: int(v) for k, v in counts.items() if v},
            "files": written}
