"""Warehouse I/O for the identity stage, in small functions (the logic stays in pure modules)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.store import db, rowstate
from leadflow.store.schema import (
    accounts,
    lifecycle_events,
    people,
    person_keys,
    person_keys_recent,
    person_records,
    stg_inbound_leads,
)
from leadflow.vocab.mailboxes import normalise_emails

CHUNK = 5000
#: Blocking keys live in two tables with the same columns: ``person_keys`` and the keys written
#: since the last merge (``person_keys_recent``, see ``write_keys``). Every lookup reads both.
KEY_TABLES = (person_keys, person_keys_recent)
#: Rows ``person_keys_recent`` may hold per person of the warehouse before it is merged.
RECENT_PER_PERSON = 1
#: People whose golden values are read at once to build their keys (``keys_of``).
KEY_READ_CHUNK = 100_000

PEOPLE_MATCH_COLS = ("person_id", "email_norm", "first_name", "last_name", "phone_e164",
                     "company_norm", "is_free_mail", "lifecycle_stage", "opt_out", "do_not_contact")


def chunks(seq: Sequence[Any], n: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def read_passed(conn: Connection, table: sa.Table, without: Sequence[str] = ()) -> pd.DataFrame:
    """The staged rows in state 'passed', in landing order; ``without``: columns left unread
    (a step that needs the delivered ``attributes`` of a few rows only reads them for those,
    ``quality.run.fetch_rows``, instead of decoding every row's JSON). Read columnar
    (``db.read_table``): a first load reads a million rows here."""
    cols = [c.name for c in table.c if c.name not in without]
    return db.read_table(conn, table, rowstate.passed_sql(table.name), ["batch_id", "row_number"], cols)


def read_waiting_leads(conn: Connection) -> pd.DataFrame:
    """(source, source_record_id, email) of the lead rows still waiting for the quality step
    (landed in a batch not validated yet: e.g. a source its gate held back); what the backlog
    holds, through the state index, not the warehouse's records."""
    t = stg_inbound_leads
    return db.read_df(conn, sa.select(t.c.source, t.c.source_record_id, t.c.email).where(rowstate.unvalidated(t)))


def _only(conn: Connection, q: sa.Select, col: sa.ColumnElement[Any],
          values: Iterable[Any] | None) -> pd.DataFrame:
    """The query's rows, or (``values`` given) only those whose ``col`` is one of them: what a
    batch needs, read through the column's index instead of the whole table."""
    return db.read_df(conn, q) if values is None else db.read_values(conn, q, col, values)


def read_people_sharing_keys(conn: Connection, records: pd.DataFrame, also: Iterable[Any] = (),
                             caps: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The people (matching columns, not erased, by id) who share a blocking key with one of
    ``records`` (``person_keys``), plus the people ``also`` names (known by address or source
    id): everyone resolution can compare the batch with, read through the key index.

    With ``caps`` (per key kind, ``crowding.caps``), people are read only through keys no more
    people hold than the cap; the crowded values are returned too, per kind, for resolution
    to skip (``crowding``): a batch reads what it can match, not every namesake in the warehouse."""
    from leadflow.identity import crowding
    from leadflow.identity.keys import key_table
    if not any(conn.execute(sa.select(t.c.person_id).limit(1)).first() for t in KEY_TABLES):
        if conn.execute(sa.select(people.c.person_id).limit(1)).first() is None:
            return _people_by_id(conn, sorted({int(x) for x in also})), {}   # empty: no key meets anyone
        build_keys(conn)     # the first load after migration 0010/0020 (or people written around the store)
    keys = key_table(records).drop_duplicates("key_hash")
    crowded = keys.iloc[:0]
    if caps is not None:      # holders counted on the server: one row per key, not per holder
        n = pd.concat([db.read_ids(conn, sa.select(t.c.key_hash, sa.func.count().label("n")).group_by(t.c.key_hash),
                                   t.c.key_hash, keys["key_hash"].tolist()) for t in KEY_TABLES])
        crowded = crowding.crowded_keys(keys, n.groupby("key_hash")["n"].sum(), caps)
    wanted_keys = keys.loc[~keys["key_hash"].isin(crowded["key_hash"]), "key_hash"].tolist()
    held = pd.concat([db.read_ids(conn, sa.select(t.c.person_id).distinct(), t.c.key_hash, wanted_keys)
                      for t in KEY_TABLES])
    wanted = sorted(set(held["person_id"].astype("int64").tolist()) | {int(x) for x in also})
    return _people_by_id(conn, wanted), crowding.by_kind(crowded)


def _people_by_id(conn: Connection, ids: list[int]) -> pd.DataFrame:
    """The matching columns of these people (not erased), by id."""
    cols = [people.c[c] for c in PEOPLE_MATCH_COLS]
    df = db.read_ids(conn, sa.select(*cols).where(people.c.erased_at.is_(None)), people.c.person_id, ids)
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype="object") for c in PEOPLE_MATCH_COLS})
    return df.sort_values("person_id", ignore_index=True)


def refresh_keys(conn: Connection, person_ids: Iterable[Any]) -> int:
    """Rewrite these people's blocking keys from their current golden values (erased people
    keep none); rows written."""
    ids = sorted({int(x) for x in person_ids})
    if not ids:
        return 0
    delete_keys(conn, ids)
    return write_keys(conn, keys_of(conn, ids))


def build_keys(conn: Connection, chunk: int = KEY_READ_CHUNK) -> int:
    """Blocking keys of every person not erased, written ``chunk`` people at a time (memory
    bounded by the chunk, whatever the warehouse holds): for a warehouse whose people were
    written before ``person_keys`` existed; rows written."""
    ids = [int(p) for p, in conn.execute(sa.select(people.c.person_id).where(people.c.erased_at.is_(None))
                                         .order_by(people.c.person_id))]
    return sum(write_keys(conn, keys_of(conn, part, chunk), bulk=True) for part in chunks(ids, chunk))


def keys_of(conn: Connection, person_ids: Sequence[int], chunk: int = KEY_READ_CHUNK) -> pd.DataFrame:
    """The blocking-key rows (key_hash, person_id) of these people not erased, their golden
    values read ``chunk`` people at a time: only the two integer columns of every person stay,
    so a first load's million new people are never all in memory as text (its peak was there)."""
    from leadflow.identity.keys import MATCH_INPUT, key_hashes
    q = sa.select(people.c.person_id, *(people.c[c] for c in MATCH_INPUT)).where(people.c.erased_at.is_(None))
    parts = []
    for part in chunks(person_ids, chunk):
        ppl = db.read_ids(conn, q, people.c.person_id, part).reset_index(drop=True)
        if ppl.empty:       # all of them erased
            continue
        kh = key_hashes(ppl)
        parts.append(pd.DataFrame({"key_hash": kh["key_hash"].to_numpy(),
                                   "person_id": ppl["person_id"].to_numpy()[kh["row"].to_numpy()]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["key_hash", "person_id"])


def delete_keys(conn: Connection, person_ids: Sequence[int]) -> None:
    """Remove these people's blocking keys from both key tables (a refresh, a merge, erasure)."""
    for t in KEY_TABLES:
        for flt in db.id_filters(conn, t.c.person_id, person_ids):
            conn.execute(sa.delete(t).where(flt))


def write_keys(conn: Connection, rows: pd.DataFrame, bulk: bool = False) -> int:
    """Insert these blocking-key rows (``keys_of``: key_hash, person_id).

    Why two tables: a day's keys are random 64-bit hashes, so inserting them into the large
    ``person_keys`` index dirtied most of its pages every day (the load's cost grew with the
    warehouse). They go to ``person_keys_recent`` instead while it holds no more rows than the
    warehouse has people (about a tenth of ``person_keys``); the write that would pass that
    goes to ``person_keys`` and moves the recent keys there too, one sorted insert that rewrites
    the large index once every several days instead of daily. A first load (or a rebuild) is
    such a write: it goes straight to ``person_keys``, and so does every chunk of a rebuild
    (``bulk``): a chunk that happened to fit would fill the recent table at once. Into an empty
    ``person_keys`` the rows go before its indexes are built (``db.insert_new``)."""
    if rows.empty:
        return 0
    rows = rows.sort_values(["key_hash", "person_id"], ignore_index=True)
    recent = int(conn.execute(sa.select(sa.func.count()).select_from(person_keys_recent)).scalar_one())
    room = int(conn.execute(sa.select(sa.func.max(people.c.person_id))).scalar() or 0) * RECENT_PER_PERSON
    if not bulk and recent + len(rows) <= room:
        return int(db.copy_upsert(conn, person_keys_recent, rows, conflict=["key_hash", "person_id"]))
    n = db.insert_new(conn, person_keys, rows, conflict=["key_hash", "person_id"])
    if recent:
        merge_recent_keys(conn)
    return n


def merge_recent_keys(conn: Connection) -> int:
    """Move every key of ``person_keys_recent`` into ``person_keys`` in key order; rows moved.
    On PostgreSQL the rows deleted are the rows inserted (one statement), so a concurrent
    writer's keys are never dropped unmoved; SQLite has one writer at a time."""
    cols = "key_hash, person_id"
    if db.is_postgres(conn):
        sql = (f"WITH moved AS (DELETE FROM person_keys_recent RETURNING {cols}) INSERT INTO person_keys "
               f"({cols}) SELECT {cols} FROM moved ORDER BY {cols} ON CONFLICT DO NOTHING")
        return int(conn.exec_driver_sql(sql).rowcount or 0)
    n = conn.exec_driver_sql(f"INSERT INTO person_keys ({cols}) SELECT {cols} FROM person_keys_recent "
                             f"WHERE true ORDER BY {cols} ON CONFLICT DO NOTHING").rowcount
    conn.exec_driver_sql("DELETE FROM person_keys_recent")
    return int(n or 0)


def read_known_emails(conn: Connection, emails: Iterable[Any] | None = None) -> pd.DataFrame:
    """(email_norm, person_id) of every resolved record's address (or of these addresses)."""
    q = sa.select(person_records.c.email_norm, person_records.c.person_id) \
        .where(person_records.c.email_norm.is_not(None)).distinct()
    return _only(conn, q, person_records.c.email_norm, emails)


def read_source_ids(conn: Connection, sources: list[str],
                    record_ids: Iterable[Any] | None = None) -> pd.DataFrame:
    """(source, source_record_id) -> person_id for the given sources (and record ids)."""
    if not sources:
        return pd.DataFrame(columns=["source", "source_record_id", "person_id"])
    q = sa.select(person_records.c.source, person_records.c.source_record_id, person_records.c.person_id) \
        .where(_with_source_id(sources, record_ids)).distinct()
    return _only(conn, q, person_records.c.source_record_id, record_ids)


def _with_source_id(sources: list[str], record_ids: Iterable[Any] | None) -> sa.ColumnElement[bool]:
    """Records of these sources holding a source id. With ``record_ids`` the id list alone
    excludes missing ids: SQLite reads a ``source_record_id IS NOT NULL`` beside it as a range
    over the (source, source_record_id) index, i.e. every record of the source, not the ids."""
    pr = person_records.c
    return pr.source.in_(sources) if record_ids is not None else \
        sa.and_(pr.source.in_(sources), pr.source_record_id.is_not(None))


def read_record_hashes(conn: Connection, sources: list[str],
                       record_ids: Iterable[Any] | None = None) -> pd.DataFrame:
    """(source, source_record_id, record_hash) already loaded for the given sources (and ids)."""
    cols = ["source", "source_record_id", "record_hash"]
    if not sources:
        return pd.DataFrame(columns=cols)
    q = sa.select(*(person_records.c[c] for c in cols)) \
        .where(_with_source_id(sources, record_ids), person_records.c.record_hash.is_not(None))
    df = _only(conn, q, person_records.c.source_record_id, record_ids)
    return df if len(df) else pd.DataFrame(columns=cols)


def read_records_of(conn: Connection, stg: sa.Table, person_ids: Sequence[int]) -> pd.DataFrame:
    """The landed rows behind the given people (for golden records and unmerge)."""
    q = (sa.select(stg, person_records.c.person_id, person_records.c.record_id)
         .join(person_records, sa.and_(person_records.c.batch_id == stg.c.batch_id,
                                       person_records.c.row_number == stg.c.row_number)))
    return db.read_ids(conn, q, person_records.c.person_id, person_ids)


def read_accounts(conn: Connection, domains: Iterable[Any] | None = None,
                  names: Iterable[Any] | None = None) -> pd.DataFrame:
    """Accounts (id, domain, name_norm); with ``domains``/``names``: only the accounts of those
    domains or normalised names, which is all that matching a batch's people looks up."""
    q = sa.select(accounts.c.account_id, accounts.c.domain, accounts.c.name_norm)
    if domains is None and names is None:
        return db.read_df(conn, q)
    got = pd.concat([db.read_values(conn, q, accounts.c.domain, [] if domains is None else domains),
                     db.read_values(conn, q, accounts.c.name_norm, [] if names is None else names)],
                    ignore_index=True)
    return got.drop_duplicates("account_id").reset_index(drop=True)


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
    erased = tombstones.erased_rows(df, df.get("id_source"), tomb, key)
    states.loc[erased, ["state", "state_reason"]] = ["suppressed", "erased"]
    return states, erased


def person_ids_by_email(conn: Connection, emails: Sequence[Any]) -> dict[Any, int]:
    """Address -> person id for these addresses only: a person's current address wins over
    one seen on an earlier record of theirs."""
    wanted = [e for e in pd.unique(pd.Series(list(emails), dtype=object).dropna())]
    pr = person_records
    seen = db.read_values(conn, sa.select(pr.c.email_norm, pr.c.person_id).distinct(), pr.c.email_norm, wanted)
    out = _ids_by(seen, "email_norm")
    out.update(lookup_ids(conn, "email_norm", wanted))
    return out


def read_erased_people(conn: Connection, person_ids: Iterable[Any]) -> set[int]:
    """The erased people among ``person_ids`` (read by id: not every erased person there is)."""
    ids = sorted({int(x) for x in person_ids})
    got = db.read_ids(conn, sa.select(people.c.person_id).where(people.c.erased_at.is_not(None)),
                      people.c.person_id, ids)
    return set(got["person_id"].astype("int64").tolist())


def lookup_ids(conn: Connection, column: str, values: Sequence[Any]) -> dict[Any, int]:
    """people.<column> value -> person_id, read through the column's index (``db.read_values``:
    one array parameter on PostgreSQL, one JSON parameter on SQLite)."""
    col = people.c[column]
    return _ids_by(db.read_values(conn, sa.select(col, people.c.person_id), col, list(values)), column)


def _ids_by(got: pd.DataFrame, col: str) -> dict[Any, int]:
    """``col`` value -> person_id of the rows read (rows without a value left out)."""
    if got.empty:
        return {}
    held = got[got[col].notna()]
    return dict(zip(held[col], held["person_id"].astype("int64").tolist()))


def insert_people(conn: Connection, rows: pd.DataFrame) -> tuple[int, dict[Any, int], dict[Any, int]]:
    """Insert new people idempotently (unique email_norm, else unique source_key); returns the
    rows inserted and person_id by address and by source key for every row. The ids come back
    from the insert itself; only rows another writer inserted first are looked up. Into an
    empty table (a first load) the rows go in before the indexes (``db.fill_empty``) and the
    ids are read back: the table holds only this batch's people then, under the fill's lock."""
    if rows.empty:
        return 0, {}, {}
    filled = db.fill_empty(conn, people, rows)
    if filled is not None:
        got = db.read_df(conn, sa.select(people.c.email_norm, people.c.source_key, people.c.person_id))
        return filled, _ids_by(got, "email_norm"), _ids_by(got, "source_key")
    has_email = rows["email_norm"].notna()
    ids: list[dict[Any, int]] = []
    n = 0
    for col, part in (("email_norm", rows[has_email]), ("source_key", rows[~has_email])):
        got = db.copy_upsert(conn, people, part, conflict=[col], returning=(col, "person_id")) if len(part) else []
        found = dict(got)
        n += len(found)
        values = part[col].dropna().drop_duplicates()
        missing = values[~values.isin(list(found))].tolist()
        found.update(lookup_ids(conn, col, missing) if missing else {})
        ids.append(found)
    return n, ids[0], ids[1]


def update_people(conn: Connection, rows: pd.DataFrame, columns: Sequence[str]) -> None:
    """UPDATE people SET <columns> by person_id, in one statement; their blocking keys follow."""
    db.copy_update(conn, people, rows[["person_id", *columns]], key=["person_id"], columns=list(columns))
    from leadflow.identity.keys import MATCH_INPUT
    if set(columns) & set(MATCH_INPUT):
        refresh_keys(conn, rows["person_id"].tolist())


def set_states(conn: Connection, stg: sa.Table, rows: pd.DataFrame) -> int:
    """Move staging rows on from 'passed' (guarded: a row another run moved stays as it is)."""
    db.copy_update(conn, stg, rows[["batch_id", "row_number", "state", "state_reason"]],
                   key=["batch_id", "row_number"], columns=["state", "state_reason"],
                   where=rowstate.passed_sql(stg.name))
    return len(rows)


def insert_lifecycle_start(conn: Connection, person_ids: Sequence[int], stage: str, reason: str,
                           at: Any, run_id: str | None) -> int:
    """The first lifecycle event of newly created people (unique per person, cycle, stage)."""
    rows = pd.DataFrame({"person_id": pd.Series(list(person_ids), dtype="int64"), "cycle": 1,
                         "from_stage": None, "to_stage": stage, "occurred_at": at, "reason": reason,
                         "run_id": run_id})
    return db.insert_new(conn, lifecycle_events, rows, conflict=["person_id", "cycle", "to_stage"])


def read_rare_flags(conn: Connection, person_ids: Iterable[Any]) -> pd.DataFrame:
    """Per person among ``person_ids``: ``rare_linked``, it holds a link only a rare name made
    (a record whose rule is marked ``+rare``), so a later namesake may reopen it; and
    ``unreadable_address``, a record of theirs typed an address that could not be read (an
    identity of its own for the rare-name rule, as it is for a record of the batch). Read
    through the person index of person_records."""
    stg = stg_inbound_leads
    ids = sorted({int(x) for x in person_ids})
    pr = person_records
    out = pd.DataFrame({"person_id": pd.Series(ids, dtype="int64")})
    q = sa.select(pr.c.person_id).distinct().where(pr.c.match_rule.like("%rare%"))
    rare = db.read_ids(conn, q, pr.c.person_id, ids) if ids else pd.DataFrame({"person_id": []})
    q = (sa.select(pr.c.person_id, stg.c.email).distinct()
         .select_from(pr.join(stg, sa.and_(stg.c.batch_id == pr.c.batch_id, stg.c.row_number == pr.c.row_number)))
         .where(pr.c.email_norm.is_(None), stg.c.email.is_not(None), sa.func.trim(stg.c.email) != ""))
    bad = db.read_ids(conn, q, pr.c.person_id, ids) if ids else pd.DataFrame({"person_id": [], "email": []})
    if len(bad):        # a filler address (noemail@) is no address, not a mistyped one
        bad = bad[~normalise_emails(bad["email"].astype("str"))["is_placeholder_address"].to_numpy(dtype=bool)]
    out["rare_linked"] = out["person_id"].isin(rare["person_id"].astype("int64"))
    out["unreadable_address"] = out["person_id"].isin(bad["person_id"].astype("int64"))
    return out
