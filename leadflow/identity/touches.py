"""The load step for touches: attach each engagement event to the resolved person.

Attachment order:
1. the touch's source_record_id, when a lead record of the same source (or of the lead source
   named by the touches source's ``record_source``) carried that id;
1b. the touch's crm_id (a CRM activity feed), when leadflow pushed a handoff under that CRM id
   or an earlier outcome carried it (``store.crm_outbox.links``);
2. the touch's normalised email: the person whose address it is, or who had it on any record;
3. a valid email nobody has yet: a new person in stage 'suspect' (known only from engagement;
   they become a 'lead' when a lead record arrives and resolves to them by email);
4. no usable identity at all (no known record id, no valid email): the row is quarantined
   (stage 'identity', reason 'no_identity'), never dropped silently.
Touches of erased people are suppressed (reason 'erased'). Rows missing the touch type or time
are quarantined too (the warehouse needs both). An 'unsubscribe' touch sets the person's opt-out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.clean import normalise_emails, to_utc
from leadflow.context import RunContext
from leadflow.identity import store
from leadflow.privacy.hashing import hash_key
from leadflow.privacy.urls import strip_pii
from leadflow.quality.run import fetch_rows, record_json
from leadflow.store import crm_outbox, db
from leadflow.store.schema import people, quarantine, stg_touches, touches

# a touch whose only identity is a filler address (noemail@, test@test.com: ``vocab.mailboxes``)
FILLER_ONLY = "no_identity: its address is a filler many people type (noemail@, test@test.com)"
log = logging.getLogger("leadflow.identity")


def attach(tch: pd.DataFrame, src_ids: pd.DataFrame, by_email: dict[str, int],
           by_crm: dict[str, int] | None = None) -> pd.Series:
    """Person id per touch (Int64, NA where unresolved) from record ids, then CRM ids
    (``by_crm``), then addresses.

    A touch's record id refers to the lead source named in ``id_source`` (the touches source's
    ``record_source`` setting), defaulting to the touch's own source.
    """
    id_source = tch["id_source"] if "id_source" in tch else tch["source"]
    keys = pd.DataFrame({"source": id_source.astype(object),
                         "source_record_id": tch["source_record_id"].astype(object)})
    by_id = keys.merge(
        src_ids.astype(object).drop_duplicates(["source", "source_record_id"]),
        how="left", on=["source", "source_record_id"])["person_id"]
    pid = pd.Series(by_id.to_numpy(), index=tch.index).astype("Int64")
    if by_crm and "crm_id" in tch:
        pid = pid.fillna(tch["crm_id"].astype(object).map(by_crm).astype("Int64"))
    return pid.fillna(tch["email_norm"].map(by_email).astype("Int64"))


def _delivered_attributes(conn: Any, rows: pd.DataFrame) -> list[Any]:
    """The ``attributes`` of these staged rows as delivered (the load reads the rest without
    them; only rows set aside need them): quality's staged-row reader and record parser."""
    staged = fetch_rows(conn, "touches", rows[["batch_id", "row_number"]])
    return [r.get("attributes") for r in record_json(staged[["attributes"]])]


def _lead_still_waiting(conn: Any, tch: pd.DataFrame) -> np.ndarray:
    """Touches naming (by record id or address) a lead row still waiting for the quality step.
    Such a touch stays staged until its lead loads (or is discarded): a suspect made from it
    would hand off a person whose lead record its source's gate holds back."""
    w = store.read_waiting_leads(conn)
    if w.empty:
        return np.zeros(len(tch), dtype=bool)
    keys = ["source", "source_record_id"]
    held_ids = pd.MultiIndex.from_frame(w.loc[w["source_record_id"].notna(), keys].astype(object))
    ids = pd.MultiIndex.from_frame(tch[["id_source", "source_record_id"]].astype(object))
    by_id = tch["source_record_id"].notna().to_numpy() & ids.isin(held_ids)
    held_emails = normalise_emails(w["email"])["email_norm"].dropna()
    return by_id | tch["email_norm"].isin(set(held_emails)).to_numpy()


def load_touches(ctx: RunContext) -> dict[str, Any]:
    """stg_touches 'passed' -> touches (+ suspect people); states loaded / suppressed / quarantined."""
    counts = {"rows": 0, "loaded": 0, "suspects_created": 0, "suppressed": 0, "quarantined": 0,
              "unsubscribes": 0, "waiting": 0}
    with ctx.engine.begin() as conn:
        tch = store.read_passed(conn, stg_touches, without=("attributes",))   # JSON: bad rows only
        if tch.empty:
            return counts
        counts["rows"] = len(tch)
        em = normalise_emails(tch["email"])
        tch["email_norm"], filler = em["email_norm"], em["is_placeholder_address"].to_numpy(dtype=bool)
        tch["occurred_at"] = to_utc(tch["occurred_at"])
        id_src = {s.name: (s.record_source or s.name) for s in ctx.settings.sources}
        tch["id_source"] = tch["source"].map(id_src).fillna(tch["source"])
        states, erased = store.initial_states(conn, tch, hash_key(ctx.settings))

        src_ids = store.read_source_ids(conn, sorted(set(tch["id_source"]) | set(tch["source"])),
                                        tch["source_record_id"])
        by_email = store.person_ids_by_email(conn, tch["email_norm"])
        crm = tch["crm_id"].dropna().astype(str).unique().tolist() if "crm_id" in tch else []
        by_crm = crm_outbox.links(conn, crm).set_index("crm_id")["person_id"].to_dict() if crm else {}
        pid = attach(tch, src_ids, by_email, by_crm)
        # A touch that reaches an erased person through a record id is suppressed too.
        gone = pid.isin(store.read_erased_people(conn, pid.dropna())).to_numpy() & ~erased
        states.loc[gone, ["state", "state_reason"]] = ["suppressed", "erased"]
        erased = erased | gone

        incomplete = (tch["touch_type"].isna() | tch["occurred_at"].isna()).to_numpy() & ~erased
        need = pid.isna().to_numpy() & ~erased & ~incomplete
        waiting = need & _lead_still_waiting(conn, tch) if need.any() else need   # no suspect of a held lead
        need &= ~waiting
        suspect_emails = tch.loc[need & tch["email_norm"].notna().to_numpy(), "email_norm"].unique().tolist()
        if suspect_emails:
            rows = [{"email_norm": e, "lifecycle_stage": "suspect", "cycle": 1, "opt_out": False,
                     "do_not_contact": False, "is_competitor": False, "account_match": "none",
                     "first_source": None, "created_at": ctx.as_of, "updated_at": ctx.as_of}
                    for e in suspect_emails]
            counts["suspects_created"] = db.insert_ignore(conn, people, rows, ["email_norm"])
            ids = store.lookup_ids(conn, "email_norm", suspect_emails)
            store.insert_lifecycle_start(conn, list(ids.values()), "suspect", "touch from an unknown address",
                                         ctx.as_of, ctx.run_id)
            store.refresh_keys(conn, list(ids.values()))
            pid = pid.fillna(tch["email_norm"].map(ids).astype("Int64"))
        no_id = pid.isna().to_numpy() & ~erased & ~incomplete & ~waiting
        bad = no_id | incomplete
        why = np.select([incomplete, filler], ["missing touch_type or occurred_at", FILLER_ONLY], "no_identity")
        states.loc[bad, "state"] = "quarantined"
        states.loc[bad, "state_reason"] = why[bad]
        if bad.any():
            q = tch[bad].assign(attributes=_delivered_attributes(conn, tch[bad]))
            recs = json.loads(q.drop(columns=["email_norm", "state", "state_reason"], errors="ignore")
                              .to_json(orient="records", date_format="iso"))
            rows = [{"source": s, "kind": "touches", "batch_id": int(b), "row_number": int(r),
                     "stage": "identity", "record": rec, "reasons": [w], "status": "open",
                     "created_at": ctx.as_of}
                    for s, b, r, rec, w in zip(q["source"], q["batch_id"], q["row_number"], recs, why[bad])]
            db.insert_ignore(conn, quarantine, rows, ["kind", "batch_id", "row_number"])

        ok = ~erased & ~bad & ~waiting
        t = tch[ok]
        touch_id = t["source_touch_id"].astype("str").fillna(
            t["batch_id"].astype(str) + ":" + t["row_number"].astype(str))
        out = pd.DataFrame({
            "source": t["source"], "source_touch_id": touch_id, "person_id": pid[ok].astype("Int64"),
            "touch_type": t["touch_type"], "occurred_at": t["occurred_at"], "campaign_id": t["campaign_id"],
            "channel": t["channel"], "url": strip_pii(t["url"]),   # rows landed before stripping too
            "batch_id": t["batch_id"], "row_number": t["row_number"],
        })
        db.insert_new(conn, touches, out, conflict=["source", "source_touch_id"])   # empty: indexes after
        unsub = out.loc[out["touch_type"] == "unsubscribe", "person_id"].dropna().astype(int).unique().tolist()
        for chunk in store.chunks(unsub):
            conn.execute(sa.update(people).where(people.c.person_id.in_(list(chunk)))
                         .values(opt_out=True, updated_at=ctx.as_of))
        store.set_states(conn, stg_touches, states[~waiting])     # waiting rows stay passed
        counts.update(loaded=int(ok.sum()), suppressed=int(erased.sum()), quarantined=int(bad.sum()),
                      unsubscribes=len(unsub), waiting=int(waiting.sum()))
    log.info("touches loaded: %s", counts)
    return counts
