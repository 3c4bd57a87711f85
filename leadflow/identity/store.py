"""Warehouse I/O for the identity stage, in small functions (the logic stays in pure modules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.store import db
from leadflow.store.schema import accounts, lifecycle_events, people, person_records

CHUNK = 5000

PEOPLE_MATCH_COLS = ("person_id", "email_norm", "first_name", "last_name", "phone_e164",
                     "company_norm", "is_free_mail", "lifecycle_stage", "opt_out", "do_not_contact")


def chunks(seq: Sequence[Any], n: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def read_passed(conn: Connection, table: sa.Table) -> pd.DataFrame:
    return db.read_df(conn, sa.select(table).where(table.c.state == "passed")
                      .order_by(table.c.batch_id, table.c.row_number))


def read_people_for_matching(conn: Connection) -> pd.DataFrame:
    cols = [people.c[c] for c in PEOPLE_MATCH_COLS]
    df = db.read_df(conn, sa.select(*cols).where(people.c.erased_at.is_(None)))
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PEOPLE_MATCH_COLS})
    return df


def read_known_emails(conn: Connection) -> pd.DataFrame:
    return db.read_df(conn, sa.select(person_records.c.email_norm, person_records.c.person_id)
                      .where(person_records.c.email_norm.is_not(None)).distinct())


def read_source_ids(conn: Connection, sources: list[str]) -> pd.DataFrame:
    """(source, source_record_id) -> person_id for the given sources."""
    if not sources:
        return pd.DataFrame(columns=["source", "source_record_id", "person_id"])
    return db.read_df(conn, sa.select(person_records.c.source, person_records.c.source_record_id,
                                      person_records.c.person_id)
                      .where(person_records.c.source.in_(sources),
                             person_records.c.source_record_id.is_not(None)).distinct())


def read_record_hashes(conn: Connection, sources: list[str]) -> pd.DataFrame:
    """(source, source_record_id, record_hash) already loaded for the given sources."""
    cols = ["source", "source_record_id", "record_hash"]
    if not sources:
        return pd.DataFrame(columns=cols)
    df = db.read_df(conn, sa.select(*(person_records.c[c] for c in cols))
                    .where(person_records.c.source.in_(sources), person_records.c.source_record_id.is_not(None),
                           person_records.c.record_hash.is_not(None)))
    return df if len(df) else pd.DataFrame(columns=cols)


def read_records_of(conn: Connection, stg: sa.Table, person_ids: Sequence[int]) -> pd.DataFrame:
    """The landed rows behind the given people (for golden records and unmerge)."""
    q = (sa.select(stg, person_records.c.person_id, person_records.c.record_id)
         .join(person_records, sa.and_(person_records.c.batch_id == stg.c.batch_id,
                                       person_records.c.row_number == stg.c.row_number)))
    return db.read_ids(conn, q, person_records.c.person_id, person_ids)


def read_accounts(conn: Connection) -> pd.DataFrame:
    return db.read_df(conn, sa.select(accounts.c.account_id, accounts.c.domain, accounts.c.name_norm))


def initial_states(conn: Connection, df: pd.DataFrame, key: bytes) -> tuple[pd.DataFrame, np.ndarray]:
    """Every row starts 'loaded'; rows of an erased person (a tombstone matches their address,
    phone or record id) are 'suppressed' with reason 'erased'.

    One place for the erasure rule both lead and touch loading apply: the second guard after
    the one at landing (rows landed before the erasure, or by a path that bypassed it).
    A touch's record id is looked up under ``id_source`` when the frame has it.
    """
    from leadflow.privacy import tombstones
    states = df[["batch_id", "row_number"]].assign(state="loaded", state_reason=None)
    tomb = tombstones.read(conn)
    if not tomb:
        return states, np.zeros(len(df), dtype=bool)
    ids = tombstones.identifiers(df, df.get("id_source"), tomb)
    erased = tombstones.blocked(ids, tomb, key)
    states.loc[erased, ["state", "state_reason"]] = ["suppressed", "erased"]
    return states, erased


def person_ids_by_email(conn: Connection, emails: Sequence[Any]) -> dict[Any, int]:
    """Address -> person id for these addresses only: a person's current address wins over
    one seen on an earlier record of theirs."""
    wanted = [e for e in pd.unique(pd.Series(list(emails), dtype=object).dropna())]
    out: dict[Any, int] = {}
    pr = person_records
    for chunk in chunks(wanted):
        q = sa.select(pr.c.email_norm, pr.c.person_id).where(pr.c.email_norm.in_(chunk)).distinct()
        out.update({e: int(p) for e, p in conn.execute(q)})
    out.update(lookup_ids(conn, "email_norm", wanted))
    return out


def read_erased_people(conn: Connection) -> set[int]:
    return {int(p) for p, in conn.execute(sa.select(people.c.person_id)
                                           .where(people.c.erased_at.is_not(None)))}


def lookup_ids(conn: Connection, column: str, values: Sequence[Any]) -> dict[Any, int]:
    """people.<column> value -> person_id, chunked IN lists."""
    out: dict[Any, int] = {}
    col = people.c[column]
    for chunk in chunks(list(values)):
        for v, pid in conn.execute(sa.select(col, people.c.person_id).where(col.in_(chunk))):
            out[v] = int(pid)
    return out


def insert_people(conn: Connection, rows: pd.DataFrame) -> int:
    """Insert new people idempotently (unique email_norm, else unique source_key)."""
    has_email = rows["email_norm"].notna()
    return (int(db.copy_upsert(conn, people, rows[has_email], conflict=["email_norm"]))
            + int(db.copy_upsert(conn, people, rows[~has_email], conflict=["source_key"])))


def update_people(conn: Connection, rows: pd.DataFrame, columns: Sequence[str]) -> None:
    """UPDATE people SET <columns> by person_id, in one statement."""
    db.copy_update(conn, people, rows[["person_id", *columns]], key=["person_id"], columns=list(columns))


def set_states(conn: Connection, stg: sa.Table, rows: pd.DataFrame) -> int:
    """Move staging rows on from 'passed' (guarded: a row another run moved stays as it is)."""
    db.copy_update(conn, stg, rows[["batch_id", "row_number", "state", "state_reason"]],
                   key=["batch_id", "row_number"], columns=["state", "state_reason"],
                   where=f"\"{stg.name}\".state = 'passed'")
    return len(rows)


def insert_lifecycle_start(conn: Connection, person_ids: Sequence[int], stage: str, reason: str,
                           at: Any, run_id: str | None) -> int:
    """The first lifecycle event of newly created people (unique per person, cycle, stage)."""
    rows = pd.DataFrame({"person_id": pd.Series(list(person_ids), dtype="int64"), "cycle": 1,
                         "from_stage": None, "to_stage": stage, "occurred_at": at, "reason": reason,
                         "run_id": run_id})
    return int(db.copy_upsert(conn, lifecycle_events, rows, conflict=["person_id", "cycle", "to_stage"]))
