"""Merging two existing people into one: the older (lower id) survives and takes everything.

Used by ``people review merge`` (a reviewer's decision) and by the load, when records of a new
batch join existing people exactly as the same rows would have joined in one file (rule
``bridged``). Records, touches, outcomes and the handoffs of cycles the survivor has not used
move to the survivor; rows derived from the merged person (scores, lifecycle events,
suppressions, handoffs of a cycle the survivor already used) are dropped; open and rejected
reviews follow the survivor (a pair kept apart stays apart); a ``merges`` row records the
merge, so ``people unmerge`` can restore the records. Golden values are the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.identity.store import refresh_keys
from leadflow.store import db
from leadflow.store.schema import (
    handoffs,
    lifecycle_events,
    match_reviews,
    merges,
    outcomes,
    people,
    person_records,
    scores,
    suppressions,
    touches,
)
from leadflow.vocab.emails import email_hash


def read_apart(conn: Connection, person_ids: Iterable[Any] | None = None) -> pd.DataFrame:
    """(person_a, person_b) pairs a reviewer kept apart (rejected reviews, unmerges); with
    ``person_ids``, only the pairs of two of those people (a batch's candidates: a pair with
    anyone else cannot meet in its resolution), read through the pair's index, not the table."""
    q = (sa.select(match_reviews.c.person_a, match_reviews.c.person_b)
         .where(match_reviews.c.status == "rejected"))
    if person_ids is None:
        return db.read_df(conn, q)
    ids = sorted({int(x) for x in person_ids})
    df = db.read_ids(conn, q, match_reviews.c.person_a, ids)
    return df[df["person_b"].astype("int64").isin(ids)].reset_index(drop=True) if len(df) else df


def mergeable_at_load(conn: Connection, pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs a load may merge on its own: not those where both people were handed off in the
    same cycle. Merging them would drop one of the two handoffs (and what sales reported on it);
    they stay two people, for a reviewer to settle, rather than lose a handoff."""
    if not len(pairs):
        return pairs
    ids = [int(x) for x in pd.concat([pairs["survivor_id"], pairs["merged_id"]]).unique()]
    h = db.read_df(conn, sa.select(handoffs.c.person_id, handoffs.c.cycle).where(handoffs.c.person_id.in_(ids)))
    if h.empty:
        return pairs
    keys = pairs.reset_index(drop=True)
    s = keys[["survivor_id"]].merge(h, left_on="survivor_id", right_on="person_id").drop(columns="person_id")
    m = keys.reset_index()[["index", "merged_id", "survivor_id"]].merge(
        h, left_on="merged_id", right_on="person_id")
    clash = m.merge(s.drop_duplicates(), on=["survivor_id", "cycle"])["index"].unique()
    return keys.drop(index=clash).reset_index(drop=True)


def absorb(conn: Connection, pairs: pd.DataFrame, rule: str, run_id: str | None, at: datetime) -> int:
    """Merge each ``merged_id`` into its ``survivor_id`` (columns of ``pairs``, plus ``score``
    and optionally ``rare``: only a rare name joined them, so the merged person's records are
    marked ``+rare`` and the merge is ``<rule>+rare``); one statement per table for all pairs.
    Returns the number of people merged."""
    if not len(pairs):
        return 0
    rows = [{"a_new": int(a), "b_old": int(b)} for a, b in zip(pairs["survivor_id"], pairs["merged_id"])]
    old: Any = sa.bindparam("b_old")
    new: Any = sa.bindparam("a_new")
    rare = pairs["rare"].fillna(False).to_numpy(dtype=bool) if "rare" in pairs.columns else \
        np.zeros(len(pairs), dtype=bool)
    if rare.any():      # only a rare name joined them: a later namesake may reopen the survivor
        conn.execute(sa.update(person_records).where(
            person_records.c.person_id.in_([int(x) for x in pairs.loc[rare, "merged_id"]]),
            person_records.c.match_rule.not_like("%rare%")).values(match_rule=person_records.c.match_rule + "+rare"))
    for t in (person_records, touches, outcomes):
        conn.execute(sa.update(t).where(t.c.person_id == old).values(person_id=new), rows)
    h2 = handoffs.alias("h2")
    taken = sa.select(h2.c.cycle).where(h2.c.person_id == new).scalar_subquery()
    conn.execute(sa.update(handoffs).where(handoffs.c.person_id == old, handoffs.c.cycle.not_in(taken))
                 .values(person_id=new), rows)
    for t in (scores, lifecycle_events, suppressions, handoffs):
        conn.execute(sa.delete(t).where(t.c.person_id == old), [{"b_old": r["b_old"]} for r in rows])
    _follow_reviews(conn, pairs)
    flags = db.read_df(conn, sa.select(people.c.person_id, people.c.opt_out, people.c.do_not_contact,
                                       people.c.email_norm)
                       .where(people.c.person_id.in_([int(x) for x in pairs["merged_id"]])))
    conn.execute(sa.delete(people).where(people.c.person_id == old), [{"b_old": r["b_old"]} for r in rows])
    _keep_flags(conn, pairs, flags, at)
    refresh_keys(conn, pairs["merged_id"])      # a merged person keeps no blocking keys (hashes of its values)
    conn.execute(merges.insert(), [
        {"survivor_id": int(a), "merged_id": int(b), "rule": rule + ("+rare" if r else ""), "run_id": run_id,
         "merged_at": at, "score": None if pd.isna(s) else float(s)}
        for a, b, s, r in zip(pairs["survivor_id"], pairs["merged_id"], pairs["score"], rare)])
    return len(pairs)


def _keep_flags(conn: Connection, pairs: pd.DataFrame, flags: pd.DataFrame, at: datetime) -> None:
    """Opt-out and do-not-contact are sticky across a merge; the survivor keeps its address
    (or takes the merged person's when it had none)."""
    f = flags.set_index("person_id").reindex(pairs["merged_id"].to_numpy())
    merged = pd.DataFrame({"sid": pairs["survivor_id"].to_numpy(),
                           "opt_out": f["opt_out"].fillna(False).astype(bool).to_numpy(),
                           "dnc": f["do_not_contact"].fillna(False).astype(bool).to_numpy(),
                           "email": f["email_norm"].to_numpy()})
    per = merged.groupby("sid").agg(opt_out=("opt_out", "max"), dnc=("dnc", "max"), email=("email", "first"))
    email = per["email"].astype(object).where(per["email"].notna(), None)
    rows = [{"sid": int(s), "oo": bool(o), "dn": bool(d), "em": e, "eh": h, "at_": at}
            for s, o, d, e, h in zip(per.index, per["opt_out"], per["dnc"], email,
                                     email_hash(email).astype(object).where(email.notna(), None))]
    conn.execute(sa.update(people).where(people.c.person_id == sa.bindparam("sid")).values(
        opt_out=sa.or_(people.c.opt_out, sa.bindparam("oo", type_=sa.Boolean)),
        do_not_contact=sa.or_(people.c.do_not_contact, sa.bindparam("dn", type_=sa.Boolean)),
        email_norm=sa.func.coalesce(people.c.email_norm, sa.bindparam("em", type_=sa.Text)),
        email_hash=sa.case((people.c.email_norm.is_(None), sa.bindparam("eh", type_=sa.Text)),
                           else_=people.c.email_hash),
        updated_at=sa.bindparam("at_", type_=sa.DateTime)), rows)


def _follow_reviews(conn: Connection, pairs: pd.DataFrame) -> None:
    """Reviews of a merged person now concern its survivor: the pair of the two is settled
    ('merged'), others are re-pointed unless the survivor already has a review with that
    person (then the duplicate goes); a rejected pair stays rejected."""
    to = pd.Series(pairs["survivor_id"].astype(int).to_numpy(), index=pairs["merged_id"].astype(int).to_numpy())
    ids = [int(x) for x in to.index]
    rv = db.read_df(conn, sa.select(match_reviews).where(sa.or_(match_reviews.c.person_a.in_(ids),
                                                                match_reviews.c.person_b.in_(ids))))
    if rv.empty:
        return
    a = rv["person_a"].map(to).fillna(rv["person_a"]).astype(int)
    b = rv["person_b"].map(to).fillna(rv["person_b"]).astype(int)
    rv = rv.assign(na=a.where(a < b, b), nb=b.where(a < b, a))
    same = rv["na"] == rv["nb"]
    if same.any():
        conn.execute(sa.update(match_reviews).where(match_reviews.c.review_id.in_(
            [int(x) for x in rv.loc[same, "review_id"]])).values(status="merged"))
    rest = rv[~same]
    if rest.empty:
        return
    have = db.read_df(conn, sa.select(match_reviews.c.person_a, match_reviews.c.person_b)
                      .where(match_reviews.c.person_a.in_([int(x) for x in rest["na"]])))
    clash = pd.MultiIndex.from_frame(rest[["na", "nb"]]).isin(pd.MultiIndex.from_frame(have)) \
        | rest.duplicated(["na", "nb"]).to_numpy()
    if clash.any():
        conn.execute(sa.delete(match_reviews).where(match_reviews.c.review_id.in_(
            [int(x) for x in rest.loc[clash, "review_id"]])))
    move = rest[~clash]
    if len(move):
        conn.execute(sa.update(match_reviews).where(match_reviews.c.review_id == sa.bindparam("rid"))
                     .values(person_a=sa.bindparam("pa"), person_b=sa.bindparam("pb")),
                     [{"rid": int(r), "pa": int(x), "pb": int(y)}
                      for r, x, y in zip(move["review_id"], move["na"], move["nb"])])
