"""People operations behind ``leadflow people ...``: show, unmerge, review merge/reject, erase
(erasure itself lives in ``leadflow.privacy``).

Unmerge restores a person's records into separate people. The unit is an *email group*: records
that share one normalised address are one mailbox by definition (the exact-email rule), so they
stay together; records without an address are units of their own. The group holding the
person's earliest record keeps the person id; every other group (or, with ``record_id``, only
that record's group) becomes a new person (stage 'lead', cycle 1; opt-out and do-not-contact are
inherited, never undone). Every pair of resulting people is stored as a *rejected* match review,
so neither the resolver nor a review can silently put them together again, and the merges of the
person are marked undone.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.clean import normalise_emails
from leadflow.context import RunContext
from leadflow.errors import LeadflowError
from leadflow.identity import merging, store
from leadflow.identity.accounts import business_domain, match_accounts, new_accounts
from leadflow.identity.golden import golden
from leadflow.identity.load import PEOPLE_VALUE_COLS, prepare_records, source_priority
from leadflow.store import db
from leadflow.store.schema import (
    accounts,
    match_reviews,
    merges,
    people,
    person_records,
    stg_inbound_leads,
    stg_touches,
    touches,
)


class IdentityError(LeadflowError):
    """A people operation cannot be done (unknown id, nothing to unmerge, ...); ids only."""


def _person(conn: Connection, person_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(people).where(people.c.person_id == person_id)).mappings().first()
    if row is None:
        raise IdentityError(f"no person with id {person_id}")
    return dict(row)


def show(engine: sa.Engine, person_id: int) -> dict[str, Any]:
    """The person, its records (rule, score), merges and reviews."""
    with engine.connect() as conn:
        p = _person(conn, person_id)
        recs = db.read_df(conn, sa.select(person_records.c.record_id, person_records.c.source,
                                          person_records.c.batch_id, person_records.c.row_number,
                                          person_records.c.match_rule, person_records.c.match_score)
                          .where(person_records.c.person_id == person_id)
                          .order_by(person_records.c.record_id))
        mg = db.read_df(conn, sa.select(merges).where(sa.or_(merges.c.survivor_id == person_id,
                                                             merges.c.merged_id == person_id)))
        rv = db.read_df(conn, sa.select(match_reviews).where(sa.or_(match_reviews.c.person_a == person_id,
                                                                    match_reviews.c.person_b == person_id)))
        n_touch = conn.execute(sa.select(sa.func.count()).select_from(touches)
                               .where(touches.c.person_id == person_id)).scalar()
    return {"person": p, "records": recs, "merges": mg, "reviews": rv, "touches": int(n_touch or 0)}


def refresh(conn: Connection, ctx: RunContext, person_ids: list[int], at: datetime) -> int:
    """Recompute golden values and account matches of the given people from their records."""
    if not person_ids:
        return 0
    raw = store.read_records_of(conn, stg_inbound_leads, person_ids)
    if raw.empty:
        return 0
    st = prepare_records(raw.drop(columns=["record_id"]), source_priority(ctx))
    st["pkey"] = st["person_id"].astype(int)
    gold = golden(st, "pkey")
    domains, names = business_domain(gold).dropna(), gold["company_norm"].dropna()
    acc = store.read_accounts(conn, domains, names)      # only the accounts matching looks up
    fresh = new_accounts(gold, acc)
    if len(fresh):
        db.insert_ignore(conn, accounts, db.records(fresh.assign(created_at=at, is_customer=False,
                                                                 has_open_deal=False)), ["domain"])
        acc = store.read_accounts(conn, domains, names)
    gold = gold.join(match_accounts(gold, acc))
    comp = {d.lower() for d in ctx.settings.qualification.competitor_domains}
    gold["is_competitor"] = business_domain(gold).isin(comp)
    cur = db.read_df(conn, sa.select(people.c.person_id, people.c.opt_out, people.c.do_not_contact)
                     .where(people.c.person_id.in_([int(x) for x in gold.index])))
    cur = cur.set_index("person_id").reindex(gold.index)
    gold["opt_out"] = gold["opt_out"].to_numpy() | cur["opt_out"].fillna(False).astype(bool).to_numpy()
    gold["do_not_contact"] = (gold["do_not_contact"].to_numpy()
                              | cur["do_not_contact"].fillna(False).astype(bool).to_numpy())
    gold["updated_at"] = at
    gold["person_id"] = gold.index.astype(int)
    store.update_people(conn, gold, [*PEOPLE_VALUE_COLS, "updated_at"])
    return len(gold)


def _reject_pairs(conn: Connection, ids: list[int], at: datetime, why: str) -> None:
    rows = [{"person_a": a, "person_b": b, "score": 0.0, "evidence": {"rule": why},
             "status": "rejected", "created_at": at}
            for a, b in itertools.combinations(sorted(ids), 2)]
    db.upsert(conn, match_reviews, rows, ["person_a", "person_b"], ["status"])


def unmerge(ctx: RunContext, person_id: int, record_id: int | None = None,
            at: datetime | None = None) -> dict[str, Any]:
    """Split a person back into the people its records came from (see module doc)."""
    at = at or ctx.as_of
    with ctx.engine.begin() as conn:
        orig = _person(conn, person_id)
        if orig.get("erased_at"):
            raise IdentityError(f"person {person_id} is erased")
        recs = _units(conn, person_id)
        if recs.empty:
            raise IdentityError(f"person {person_id} has no records to unmerge")
        keep_unit = recs["unit"].iloc[0]
        if record_id is not None:
            if record_id not in set(recs["record_id"]):
                raise IdentityError(f"record {record_id} does not belong to person {person_id}")
            unit = recs.loc[recs["record_id"] == record_id, "unit"].iloc[0]
            if unit == keep_unit:     # moving the founding group: the rest stays instead
                moving = [u for u in recs["unit"].unique() if u != unit]
            else:
                moving = [unit]
        else:
            moving = [u for u in recs["unit"].unique() if u != keep_unit]
        if not moving:
            raise IdentityError(f"person {person_id} has a single identity (one address); nothing to unmerge")
        new_ids = _split(conn, ctx, orig, recs, moving, at, f"unmerged from person {person_id}")
        refresh(conn, ctx, [person_id, *new_ids], at)
        _reject_pairs(conn, [person_id, *new_ids], at, "unmerged")
    return {"person_id": person_id, "new_person_ids": new_ids, "records_moved":
            int(recs["unit"].isin(moving).sum())}


def reopen(conn: Connection, ctx: RunContext, person_ids: list[int], at: datetime) -> list[int]:
    """Split people holding a rare-name merge that a new namesake made doubtful back into their
    address groups (the unit of ``unmerge``), so that the load can resolve them again with the
    batch as if all the rows had come in one file. Unlike ``unmerge`` no pair is rejected: the
    groups may well join again on other evidence. The group of the earliest record keeps the
    person (and its handoffs); touches follow their records; rare marks are cleared (the
    records say ``reopened``). Returns the new people's ids."""
    new_ids: list[int] = []
    for pid in sorted({int(x) for x in person_ids}):
        orig = _person(conn, pid)
        recs = _units(conn, pid)
        if orig.get("erased_at") or recs.empty:
            continue
        moving = [u for u in recs["unit"].unique() if u != recs["unit"].iloc[0]]
        if moving:
            new_ids += _split(conn, ctx, orig, recs, moving, at, f"reopened from person {pid}")
        rare = recs.loc[recs["match_rule"].str.contains("rare", regex=False), "record_id"]
        if len(rare):
            conn.execute(sa.update(person_records).where(person_records.c.record_id.in_([int(x) for x in rare]))
                         .values(match_rule="reopened", match_score=None))
    refresh(conn, ctx, sorted({int(x) for x in person_ids} | set(new_ids)), at)
    return new_ids


def _units(conn: Connection, person_id: int) -> pd.DataFrame:
    """The person's records in order, each with its unmerge ``unit`` (address, else itself)."""
    recs = db.read_df(conn, sa.select(person_records).where(person_records.c.person_id == person_id)
                      .order_by(person_records.c.record_id))
    if len(recs):
        recs["unit"] = recs["email_norm"].fillna("#" + recs["record_id"].astype(str))
    return recs


def _split(conn: Connection, ctx: RunContext, orig: dict[str, Any], recs: pd.DataFrame, moving: list[str],
           at: datetime, why: str) -> list[int]:
    """Move the ``moving`` units of a person's records to new people (stage 'lead', sticky flags
    inherited), with their touches; the person's merges are marked undone. Golden values are
    the caller's job (``refresh``). Returns the new people's ids."""
    person_id = int(orig["person_id"])
    # the original person gives up an address it no longer holds (unique key)
    keep_units = set(recs["unit"]) - set(moving)
    keep_email = next((u for u in recs.loc[recs["unit"].isin(keep_units), "email_norm"].dropna()), None)
    conn.execute(sa.update(people).where(people.c.person_id == person_id)
                 .values(**db.with_derived(people, email_norm=keep_email, updated_at=at)))
    new_ids = []
    for u in moving:
        rr = recs[recs["unit"] == u]
        email = rr["email_norm"].dropna().iloc[0] if rr["email_norm"].notna().any() else None
        key = None if email else f"unmerge:{int(rr['record_id'].iloc[0])}"
        new_key = conn.execute(people.insert().values(**db.with_derived(
            people, email_norm=email, source_key=key, lifecycle_stage="lead", cycle=1,
            opt_out=bool(orig["opt_out"]), do_not_contact=bool(orig["do_not_contact"]),
            is_competitor=bool(orig["is_competitor"]), first_source=rr["source"].iloc[0],
            created_at=at, updated_at=at))).inserted_primary_key
        assert new_key is not None, "a single-row INSERT reports its key"
        pid = new_key[0]
        new_ids.append(int(pid))
        conn.execute(sa.update(person_records)
                     .where(person_records.c.record_id.in_([int(x) for x in rr["record_id"]]))
                     .values(person_id=pid))
        store.insert_lifecycle_start(conn, [pid], "lead", why, at, ctx.run_id)
    _move_touches(conn, person_id, recs, moving, new_ids)
    conn.execute(sa.update(merges).where(sa.or_(merges.c.survivor_id == person_id,
                                                merges.c.merged_id == person_id),
                                         merges.c.undone_at.is_(None)).values(undone_at=at))
    return new_ids


def _move_touches(conn: Connection, person_id: int, recs: pd.DataFrame, moving: list[str],
                  new_ids: list[int]) -> None:
    """Touches follow the records they were attached by (record id of the source, or address)."""
    t = db.read_df(conn, sa.select(touches.c.touch_id, touches.c.source, stg_touches.c.source_record_id,
                                   stg_touches.c.email)
                   .select_from(touches.outerjoin(stg_touches, sa.and_(
                       stg_touches.c.batch_id == touches.c.batch_id,
                       stg_touches.c.row_number == touches.c.row_number)))
                   .where(touches.c.person_id == person_id))
    if t.empty:
        return
    unit_pid = dict(zip(moving, new_ids))
    rec = recs.assign(new=recs["unit"].map(unit_pid))
    by_id = rec.dropna(subset=["new", "source_record_id"]).set_index(["source", "source_record_id"])["new"]
    by_email = rec.dropna(subset=["new", "email_norm"]).drop_duplicates("email_norm").set_index("email_norm")["new"]
    t["email_norm"] = normalise_emails(t["email"])["email_norm"]
    idx = pd.MultiIndex.from_frame(t[["source", "source_record_id"]].astype(object))
    target = pd.Series(by_id.reindex(idx).to_numpy(), index=t.index).fillna(t["email_norm"].map(by_email))
    for pid, g in t[target.notna()].groupby(target[target.notna()]):
        conn.execute(sa.update(touches).where(touches.c.touch_id.in_([int(x) for x in g["touch_id"]]))
                     .values(person_id=int(pid)))


def review_list(engine: sa.Engine, status: str = "open") -> pd.DataFrame:
    with engine.connect() as conn:
        return db.read_df(conn, sa.select(match_reviews).where(match_reviews.c.status == status)
                          .order_by(match_reviews.c.score.desc(), match_reviews.c.review_id))


def _review(conn: Connection, review_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(match_reviews).where(match_reviews.c.review_id == review_id)).mappings().first()
    if row is None:
        raise IdentityError(f"no match review with id {review_id}")
    if row["status"] != "open":
        raise IdentityError(f"match review {review_id} is already {row['status']}")
    return dict(row)


def review_reject(ctx: RunContext, review_id: int, at: datetime | None = None) -> None:
    with ctx.engine.begin() as conn:
        _review(conn, review_id)
        conn.execute(sa.update(match_reviews).where(match_reviews.c.review_id == review_id)
                     .values(status="rejected"))


def review_merge(ctx: RunContext, review_id: int, at: datetime | None = None) -> dict[str, Any]:
    """Merge the pair of a review: the older person (lower id) survives and takes everything
    (``merging.absorb``)."""
    at = at or ctx.as_of
    with ctx.engine.begin() as conn:
        rv = _review(conn, review_id)
        a, b = sorted((int(rv["person_a"]), int(rv["person_b"])))
        pa, pb = _person(conn, a), _person(conn, b)
        if pa.get("erased_at") or pb.get("erased_at"):
            raise IdentityError(f"review {review_id} involves an erased person")
        merging.absorb(conn, pd.DataFrame({"survivor_id": [a], "merged_id": [b], "score": [rv["score"]]}),
                       "review", ctx.run_id, at)
        refresh(conn, ctx, [a], at)
        conn.execute(sa.update(match_reviews).where(match_reviews.c.review_id == review_id)
                     .values(status="merged"))
    return {"survivor_id": a, "merged_id": b}
