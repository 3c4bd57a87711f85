"""The load step for inbound leads: staging rows in state 'passed' -> people, accounts, history.

Read -> clean -> resolve -> golden records -> accounts -> write, in one transaction, so a failure
leaves nothing half-written and a re-run finds the rows still 'passed'. Every row ends in exactly
one state: 'loaded' (a person_records row says which person it formed or joined, by which rule and
score) or 'suppressed' with a reason ('erased': a tombstone matches the address, phone or record id).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from leadflow.clean import standardise_leads
from leadflow.context import RunContext
from leadflow.identity import crowding, derived, evidence, merging, store
from leadflow.identity.accounts import business_domain, match_accounts, new_accounts
from leadflow.identity.golden import golden
from leadflow.identity.resolve import Thresholds, resolve_people
from leadflow.privacy.hashing import hash_key
from leadflow.quality.redelivery import record_hash
from leadflow.store import contact_blocks, db
from leadflow.store.schema import accounts, match_reviews, person_records, stg_inbound_leads

log = logging.getLogger("leadflow.identity")

PEOPLE_VALUE_COLS = ("first_name", "last_name", "phone_e164", "company", "company_norm", "job_title",
                     "seniority", "job_function", "industry", "company_size", "country", "city",
                     "is_free_mail", "is_role_address", "account_id", "account_match", "opt_out",
                     "do_not_contact", "is_competitor", "attributes")


# what a new person's first record tells beyond its golden values (source key, first seen)
FOUNDER_COLS = ("pkey", "source", "source_record_id", "batch_id", "row_number", "record_time")


def source_priority(ctx: RunContext) -> dict[str, int]:
    return {s.name: s.priority for s in ctx.settings.sources}


def prepare_records(raw: pd.DataFrame, priority: dict[str, int]) -> pd.DataFrame:
    """Standardise landed rows and add what survivorship needs (priority, record time)."""
    st = evidence.add_junk_flags(standardise_leads(raw), raw)     # junk is not evidence (raw values)
    st["priority"] = st["source"].map(priority).fillna(100).astype(int)
    st["record_time"] = st["created_at"].fillna(pd.to_datetime(st["loaded_at"]))
    return st


def first_seen(st: pd.DataFrame, as_of: Any) -> pd.Series:
    """Per new person (``pkey``): when the lead came into being, from its records' own
    ``created_at`` (else the load time), never later than the run's logical time. A lead's
    cohort and its first lifecycle event are its own dates, not the run's that loaded it."""
    t = pd.to_datetime(st["record_time"]).groupby(st["pkey"]).min()
    return t.where(t.notna() & (t <= pd.Timestamp(as_of)), pd.Timestamp(as_of))


def _source_key(st: pd.DataFrame) -> pd.Series:
    rid = st["source_record_id"].astype("str")
    fallback = st["batch_id"].astype(str) + ":" + st["row_number"].astype(str)
    return st["source"].astype(str) + ":" + rid.fillna(fallback)


def redelivered(conn: Any, st: pd.DataFrame) -> np.ndarray:
    """Rows whose source record (same source, same id, same values) is already loaded, or
    repeats an earlier row of this load: suppressed ('redelivered'), never a second history row."""
    has_id = st["source_record_id"].notna().to_numpy()
    key = ["source", "source_record_id", "record_hash"]
    dup = st.duplicated(key, keep="first").to_numpy() & has_id
    known = store.read_record_hashes(conn, sorted(st["source"].unique()), st["source_record_id"])
    if len(known):
        seen = pd.MultiIndex.from_frame(known[key].astype(object))
        dup |= pd.MultiIndex.from_frame(st[key].astype(object)).isin(seen) & has_id
    return dup


def load_leads(ctx: RunContext, thresholds: Thresholds | None = None) -> dict[str, Any]:
    """stg_inbound_leads 'passed' -> people / person_records / accounts / match_reviews."""
    th = thresholds or Thresholds()
    counts = {"rows": 0, "created": 0, "merged": 0, "review": 0, "suppressed": 0,
              "accounts_created": 0}
    with ctx.engine.begin() as conn:
        # opt-out signals of staged rows landed before ingest kept them (any state): blocks
        counts["opt_out_signals"] = contact_blocks.capture_staged(conn, ctx.as_of)
        raw = store.read_passed(conn, stg_inbound_leads)
        if raw.empty:
            return counts
        counts["rows"] = len(raw)
        st = prepare_records(raw, source_priority(ctx))
        st["record_hash"] = record_hash(raw).to_numpy()
        del raw     # the landed values live on in ``st``; a first load's peak is what stays alive
        states, erased = store.initial_states(conn, st, hash_key(ctx.settings))
        again = redelivered(conn, st) & ~erased
        states.loc[again, ["state", "state_reason"]] = ["suppressed", "redelivered"]
        counts["suppressed"] = int(erased.sum() + again.sum())
        st = st[~erased & ~again].reset_index(drop=True)
        if len(st):
            counts.update(_resolve_and_write(conn, ctx, st, th))
        store.set_states(conn, stg_inbound_leads, states)
    log.info("leads loaded: %s", counts)
    return counts


def _resolve_and_write(conn: Any, ctx: RunContext, st: pd.DataFrame, th: Thresholds) -> dict[str, int]:
    existing, res, n_reopened = _resolve_reopening(conn, ctx, st, th)
    assign, reviews = res.assign, res.reviews
    # existing people this batch's records joined (as one file would have): one person now,
    # before golden records are computed from all of the survivor's records
    merged = merging.mergeable_at_load(conn, res.merged)
    n_joined = merging.absorb(conn, merged, "bridged", ctx.run_id, ctx.as_of)
    existing = _fold_merged(existing, merged)
    st = st.assign(**{c: assign[c].array for c in assign.columns})   # keeps person_id Int64
    is_new = st["person_id"].isna()
    st["pkey"] = np.where(is_new, "n" + st["cluster"].astype(str), "p" + st["person_id"].astype(str))

    # golden records: this batch's rows plus the older rows of the existing people they joined
    touched = sorted({*st.loc[~is_new, "person_id"].astype(int).tolist(), *merged["survivor_id"].astype(int).tolist()})
    old = store.read_records_of(conn, stg_inbound_leads, touched)
    if len(old):
        old = prepare_records(old.drop(columns=["record_id"]), source_priority(ctx))
        old = old[~old.set_index(["batch_id", "row_number"]).index.isin(
            st.set_index(["batch_id", "row_number"]).index)]
        old["pkey"] = "p" + old["person_id"].astype(int).astype(str)
    allrec = pd.concat([st, old], ignore_index=True) if len(old) else st
    gold = golden(allrec, "pkey")

    # accounts: create missing domains, then match every golden record (only the accounts of
    # the batch's domains and company names are read: all that matching looks up)
    domains, names = business_domain(gold).dropna(), gold["company_norm"].dropna()
    acc_now = store.read_accounts(conn, domains, names)
    fresh = new_accounts(gold, acc_now)
    created_acc = 0
    if len(fresh):
        fresh = fresh.assign(created_at=ctx.as_of, is_customer=False, has_open_deal=False)
        created_acc = db.insert_ignore(conn, accounts, db.records(fresh), ["domain"])
        acc_now = store.read_accounts(conn, domains, names)
    gold = gold.join(match_accounts(gold, acc_now))
    comp = {d.lower() for d in ctx.settings.qualification.competitor_domains}
    gold["is_competitor"] = business_domain(gold).isin(comp)

    # new and existing people's golden records apart, and the whole frame freed: a first
    # load's peak memory is in writing the new people and building their keys
    is_new_g = gold.index.str.startswith("n")
    new_g, ex_g = gold[is_new_g], gold[~is_new_g]
    del gold
    created, new_pid = _insert_new_people(conn, ctx, new_g, st.loc[is_new.to_numpy(), list(FOUNDER_COLS)])
    del new_g
    store.refresh_keys(conn, new_pid.dropna().tolist())   # the new people's frames are gone by now

    # existing people: refresh their golden values; sticky flags; keep their address
    if len(ex_g):
        ex_g["person_id"] = ex_g.index.str[1:].astype(int)
        cur = existing.set_index("person_id").reindex(ex_g["person_id"])
        ex_g["opt_out"] = ex_g["opt_out"].to_numpy() | cur["opt_out"].fillna(False).astype(bool).to_numpy()
        ex_g["do_not_contact"] = (ex_g["do_not_contact"].to_numpy()
                                  | cur["do_not_contact"].fillna(False).astype(bool).to_numpy())
        ex_g["updated_at"] = ctx.as_of
        store.update_people(conn, ex_g, [*PEOPLE_VALUE_COLS, "updated_at"])
        suspects = cur.index[cur["lifecycle_stage"].to_numpy() == "suspect"].tolist()
        if suspects:
            from leadflow import lifecycle
            lifecycle.transition(conn, suspects, "lead", "lead record received", ctx)

    # the merge history: one person_records row per landed row
    pid = st["person_id"].astype("Int64").fillna(st["pkey"].map(new_pid))
    rule = st["match_rule"].astype(str)
    rule = rule.where(~(st["rare"].to_numpy(dtype=bool) & (rule != "new") & ~rule.str.contains("rare")), rule + "+rare")
    recs = pd.DataFrame({
        "batch_id": st["batch_id"], "row_number": st["row_number"], "source": st["source"],
        "person_id": pid, "match_rule": rule, "match_score": st["match_score"],
        "created_at": ctx.as_of, "source_record_id": st["source_record_id"],
        "email_norm": st["email_norm"], "record_hash": st["record_hash"],
    })
    db.insert_new(conn, person_records, recs, conflict=db.ANY_KEY)   # a first load: indexes after

    # uncertain pairs -> review list (never merged); a pair rejected before stays rejected
    n = len(st)
    n_review = 0
    if len(reviews):
        ex_ids = existing["survivor_id"].to_numpy()
        node_pid = lambda x: np.where(x < n, pid.to_numpy(dtype="float64")[np.minimum(x, n - 1)],  # noqa: E731
                                      ex_ids[np.maximum(x - n, 0)] if len(ex_ids) else np.nan)
        pa, pb = node_pid(reviews["a"].to_numpy()), node_pid(reviews["b"].to_numpy())
        rv = pd.DataFrame({"person_a": np.minimum(pa, pb), "person_b": np.maximum(pa, pb),
                           "score": reviews["score"].to_numpy(), "rule": reviews["rule"].to_numpy()})
        rv = rv.dropna()
        rv = rv[rv["person_a"] != rv["person_b"]].sort_values("score", ascending=False)
        rv = rv.drop_duplicates(["person_a", "person_b"]).astype({"person_a": int, "person_b": int})
        rv["evidence"] = [{"rule": r, "score": round(float(s), 4)} for r, s in zip(rv["rule"], rv["score"])]
        rv = rv.assign(status="open", created_at=ctx.as_of)
        n_review = db.insert_ignore(conn, match_reviews,
                                    db.records(rv, ["person_a", "person_b", "score", "evidence",
                                                    "status", "created_at"]),
                                    ["person_a", "person_b"])
    n_review += _review_held(conn, ctx, res.merged, merged)
    return {"created": int(created), "merged": int(len(st) - new_pid.notna().sum()),
            "review": int(n_review), "accounts_created": int(created_acc), "people_joined": n_joined,
            "people_reopened": n_reopened}


def _insert_new_people(conn: Any, ctx: RunContext, new_g: pd.DataFrame,
                       fresh: pd.DataFrame) -> tuple[int, pd.Series]:
    """Insert the golden records of new people (``new_g``, ``pkey`` n...; ``fresh``: their
    records' ``FOUNDER_COLS``) with their first lifecycle event; returns (people inserted,
    person id per new ``pkey``). A function of its own so its frames are freed before the keys
    are built: a first load's peak memory is there."""
    founders = fresh.drop_duplicates("pkey").set_index("pkey")
    founders = derived.without_derived_ids(founders, ctx.settings)    # derived ids are not identity
    source_key = _source_key(founders).reindex(new_g.index).where(new_g["email_norm"].isna())
    born = first_seen(fresh, ctx.as_of).reindex(new_g.index)
    rows = new_g.assign(source_key=source_key, lifecycle_stage="lead", cycle=1, created_at=born.to_numpy(),
                        updated_at=ctx.as_of)
    people_cols = ["email_norm", "source_key", *PEOPLE_VALUE_COLS, "first_source", "first_campaign_id",
                   "first_channel", "lifecycle_stage", "cycle", "created_at", "updated_at"]
    created, by_email, by_key = store.insert_people(conn, rows[people_cols])
    new_pid = new_g["email_norm"].map(by_email).fillna(source_key.map(by_key)).astype("Int64")
    has = new_pid.notna()
    store.insert_lifecycle_start(conn, new_pid[has].tolist(), "lead", "new lead record",
                                 born[has.to_numpy()].tolist(), ctx.run_id)
    return created, new_pid


def _candidates(conn: Any, ctx: RunContext, st: pd.DataFrame, fresh: set[int],
                th: Thresholds) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, dict[str, list[str]]]:
    """What the batch is resolved against: the people it can meet (sharing a blocking key no
    more people hold than its block's cap, or known by address or source id, or ``fresh``: just
    reopened), with their rare-name flags; the known addresses; the person each record's
    source id already names; the crowded key values whose holders were not read."""
    known = store.read_known_emails(conn, st["email_norm"])
    src_ids = store.read_source_ids(conn, derived.identity_sources(ctx.settings, st["source"].unique()),
                                    st["source_record_id"])
    pre = (st[["source", "source_record_id"]].astype(object)
           .merge(src_ids.astype({"source": object, "source_record_id": object})
                  .drop_duplicates(["source", "source_record_id"]),
                  how="left", on=["source", "source_record_id"])["person_id"])
    # only the people the batch can meet: sharing a blocking key, or known by address or id
    also = [*known["person_id"].tolist(), *pre.dropna().tolist(), *fresh,
            *store.lookup_ids(conn, "email_norm", st["email_norm"].dropna().unique().tolist()).values()]
    existing, crowded = store.read_people_sharing_keys(conn, st, also, crowding.caps(th.block_cap))
    existing = existing.merge(store.read_rare_flags(conn, existing["person_id"]), on="person_id", how="left")
    existing["fresh"] = existing["person_id"].isin(fresh)
    return existing, known, pre, crowded


MAX_REOPEN_ROUNDS = 3


def _resolve_reopening(conn: Any, ctx: RunContext, st: pd.DataFrame,
                       th: Thresholds) -> tuple[pd.DataFrame, Any, int]:
    """Resolve the batch against the people it can meet. When the batch brings a namesake that
    makes a rare name common, the people holding a merge only that rare name made are split
    back into their address groups (``ops.reopen``) and the batch is resolved again, those
    groups compared with everyone as if their rows had come in this file (rarity only ever
    shrinks, so this settles in a round or two). Returns (people read, resolution, number of
    people reopened)."""
    from leadflow.identity import ops  # ops builds on this module
    fresh: set[int] = set()
    n_reopened = 0
    for round_ in range(MAX_REOPEN_ROUNDS + 1):
        existing, known, pre, crowded = _candidates(conn, ctx, st, fresh, th)
        apart = merging.read_apart(conn, existing["person_id"])    # pairs among these people only
        res = resolve_people(st, existing, known, th, preassigned=pre.to_numpy(), apart=apart,
                             crowded=crowded)
        if not len(res.reopen) or round_ == MAX_REOPEN_ROUNDS:
            break
        ids = [int(x) for x in res.reopen]
        fresh |= set(ids) | set(ops.reopen(conn, ctx, ids, ctx.as_of))
        n_reopened += len(ids)
        log.info("reopened %d rare-name merges", len(ids))
    return existing, res, n_reopened


def _review_held(conn: Any, ctx: RunContext, proposed: pd.DataFrame, done: pd.DataFrame) -> int:
    """Bridged merges the load held back (both people handed off in the same cycle) go to review."""
    held = proposed[~proposed["merged_id"].isin(done["merged_id"])] if len(proposed) else proposed
    if not len(held):
        return 0
    a, b = held["survivor_id"].astype(int), held["merged_id"].astype(int)
    # no score: joined through exact evidence (an address, a source id), no scored edge
    rv = pd.DataFrame({"person_a": np.minimum(a, b), "person_b": np.maximum(a, b),
                       "score": held["score"].astype(float).fillna(1.0).to_numpy(), "status": "open",
                       "created_at": ctx.as_of})
    rv["evidence"] = [{"rule": "bridged", "held": "both handed off in the same cycle"}] * len(rv)
    return db.insert_ignore(conn, match_reviews, db.records(rv, ["person_a", "person_b", "score", "evidence",
                                                                 "status", "created_at"]), ["person_a", "person_b"])


def _fold_merged(existing: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """Existing people with ``survivor_id`` (itself, or the person it was merged into) and the
    merged people's sticky flags carried to their survivor."""
    out = existing.assign(survivor_id=existing["person_id"])
    if not len(merged):
        return out
    to = pd.Series(merged["survivor_id"].to_numpy(), index=merged["merged_id"].to_numpy())
    out["survivor_id"] = out["person_id"].map(to).fillna(out["person_id"]).astype("int64")
    for f in ("opt_out", "do_not_contact"):
        sticky = out[f].fillna(False).astype(bool).groupby(out["survivor_id"]).transform("max")
        out[f] = sticky.to_numpy()
    return out
