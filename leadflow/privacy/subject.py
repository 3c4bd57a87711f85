"""Find everything held about one person (a data subject) by their address: the rule shared by
erasure and the subject access export.

Matching is exact on the normalised, untagged address (the matcher's email key: lower case, no
``+tag``, no Gmail dots), never by substring: ``bobs@example.com`` is not ``s@example.com``.
SQL narrows candidates by domain; the exact comparison is done on normalised values. From the
address the subject grows to the people who hold it, their records' other addresses, their
source record ids and phones, and every landed, quarantined and derived row behind them.
Shared phones alone never pull in rows of other people (they only block re-entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.clean import normalise_emails
from leadflow.config import Settings
from leadflow.errors import LeadflowError
from leadflow.privacy.tombstones import record_key
from leadflow.store import db
from leadflow.store.schema import (
    handoffs,
    outcomes,
    people,
    person_records,
    quarantine,
    stg_crm_outcomes,
    stg_inbound_leads,
    stg_touches,
    touches,
)

_GMAIL = ("gmail.com", "googlemail.com")
_TOKENS = re.compile(r"[^\s@\"'<>,;:(){}\[\]]+@[^\s@\"'<>,;:(){}\[\]]+")


class SubjectError(LeadflowError):
    """The subject cannot be looked up (no valid address); never quotes the address."""


@dataclass
class Subject:
    email_keys: set[str]
    person_ids: list[int] = field(default_factory=list)
    record_keys: set[str] = field(default_factory=set)       # source \x1f source_record_id
    phones: set[str] = field(default_factory=set)            # E.164
    staging: dict[str, pd.DataFrame] = field(default_factory=dict)   # kind -> full rows
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    handoff_ids: list[int] = field(default_factory=list)
    clear: dict[str, set[str]] = field(default_factory=dict)  # values as stored, for file scrubbing
    # a filler address (noemail@: ``vocab.mailboxes``): the rows typing it are strangers'; only
    # the address is the subject's, so their names, phones and record ids are not
    filler: bool = False


def email_key(email: str) -> str:
    k = normalise_emails(pd.Series([email], dtype=object), filler_is_address=True)["email_key"].iloc[0]
    if not isinstance(k, str):
        raise SubjectError("not a valid email address")
    return k


def is_filler(email: str) -> bool:
    return bool(normalise_emails(pd.Series([email], dtype=object))["is_placeholder_address"].iloc[0])


def _keys(values: pd.Series) -> pd.Series:
    return normalise_emails(values.astype(object), filler_is_address=True)["email_key"]


def _domains(keys: set[str]) -> set[str]:
    out = {k.rsplit("@", 1)[1] for k in keys}
    return out | set(_GMAIL) if out & set(_GMAIL) else out


def _by_domain(col: sa.ColumnElement, keys: set[str]) -> sa.ColumnElement:
    low = sa.func.lower(col)
    return sa.or_(*[low.contains("@" + d, autoescape=True) for d in sorted(_domains(keys))])


def _match_email(df: pd.DataFrame, col: str, keys: set[str]) -> pd.Series:
    if df.empty:
        return pd.Series(False, index=df.index)
    return _keys(df[col]).isin(keys).fillna(False).astype(bool)


def _in_pairs(conn: Connection, table: sa.Table, pairs: pd.DataFrame) -> pd.DataFrame:
    """Full rows of ``table`` for (batch_id, row_number) pairs, chunked by batch."""
    out = []
    for b, g in pairs.drop_duplicates().groupby("batch_id"):
        rows = sorted(int(r) for r in g["row_number"])
        for i in range(0, len(rows), 5000):
            out.append(db.read_df(conn, sa.select(table).where(
                table.c.batch_id == int(b), table.c.row_number.in_(rows[i:i + 5000]))))
    out = [o for o in out if len(o)]
    return pd.concat(out, ignore_index=True) if out else db.read_df(conn, sa.select(table).where(sa.false()))


def _pairs(df: pd.DataFrame) -> pd.DataFrame:
    return df[["batch_id", "row_number"]].dropna().astype(int) if len(df) else pd.DataFrame(
        columns=["batch_id", "row_number"])


def find(conn: Connection, settings: Settings, email: str) -> Subject:
    """The subject behind ``email`` (see module doc); empty when nothing is held."""
    keys = {email_key(email)}
    id_source = {s.name: (s.record_source or s.name) for s in settings.sources}

    # people and records holding one of the subject's addresses (grown once by their records)
    pids: set[int] = set()
    for _ in range(2):
        ppl = db.read_df(conn, sa.select(people.c.person_id, people.c.email_norm)
                         .where(_by_domain(people.c.email_norm, keys)))
        recs = db.read_df(conn, sa.select(person_records.c.person_id, person_records.c.email_norm)
                          .where(_by_domain(person_records.c.email_norm, keys)))
        pids |= {int(p) for p in ppl.loc[_match_email(ppl, "email_norm", keys), "person_id"]}
        pids |= {int(p) for p in recs.loc[_match_email(recs, "email_norm", keys), "person_id"]}
        own = db.read_df(conn, sa.select(person_records.c.email_norm)
                         .where(person_records.c.person_id.in_(sorted(pids)))) if pids else pd.DataFrame()
        more = set(_keys(own["email_norm"]).dropna()) - keys if len(own) else set()
        if not more:
            break
        keys |= more
    sub = Subject(email_keys=keys, person_ids=sorted(pids), filler=is_filler(email))
    plist = sub.person_ids
    pr = db.read_df(conn, sa.select(person_records).where(person_records.c.person_id.in_(plist)))
    sub.record_keys = set(record_key(pr["source"], pr["source_record_id"]).dropna()) if len(pr) else set()
    rid_values = sorted({k.split("\x1f", 1)[1] for k in sub.record_keys})

    # landed lead rows: behind the records, by address, by record id
    cands = [_in_pairs(conn, stg_inbound_leads, _pairs(pr))]
    by_mail = db.read_df(conn, sa.select(stg_inbound_leads).where(_by_domain(stg_inbound_leads.c.email, keys)))
    cands.append(by_mail[_match_email(by_mail, "email", keys)])
    if rid_values:
        by_id = db.read_df(conn, sa.select(stg_inbound_leads)
                           .where(stg_inbound_leads.c.source_record_id.in_(rid_values)))
        cands.append(by_id[record_key(by_id["source"], by_id["source_record_id"]).isin(sub.record_keys)])
    leads = pd.concat([c for c in cands if len(c)], ignore_index=True) if any(len(c) for c in cands) else cands[0]
    leads = leads.drop_duplicates(["batch_id", "row_number"]).reset_index(drop=True)
    sub.staging["inbound_leads"] = leads
    if len(leads) and not sub.filler:   # their rows' ids count too (a row quarantined before it formed a record)
        sub.record_keys |= set(record_key(leads["source"], leads["source_record_id"]).dropna())
        rid_values = sorted({k.split("\x1f", 1)[1] for k in sub.record_keys})

    # touches: attached to the people, by address, or by record id of the lead source
    tpairs = db.read_df(conn, sa.select(touches.c.batch_id, touches.c.row_number)
                        .where(touches.c.person_id.in_(plist))) if plist else pd.DataFrame()
    cands = [_in_pairs(conn, stg_touches, _pairs(tpairs))]
    by_mail = db.read_df(conn, sa.select(stg_touches).where(_by_domain(stg_touches.c.email, keys)))
    cands.append(by_mail[_match_email(by_mail, "email", keys)])
    if rid_values:
        by_id = db.read_df(conn, sa.select(stg_touches).where(stg_touches.c.source_record_id.in_(rid_values)))
        src = by_id["source"].map(id_source).fillna(by_id["source"])
        cands.append(by_id[record_key(src, by_id["source_record_id"]).isin(sub.record_keys)])
    sub.staging["touches"] = (pd.concat([c for c in cands if len(c)], ignore_index=True)
                              .drop_duplicates(["batch_id", "row_number"]).reset_index(drop=True)
                              if any(len(c) for c in cands) else cands[0])

    # CRM outcomes: of the people's handoffs, or by address
    opairs = db.read_df(conn, sa.select(outcomes.c.batch_id, outcomes.c.row_number)
                        .where(outcomes.c.person_id.in_(plist))) if plist else pd.DataFrame()
    cands = [_in_pairs(conn, stg_crm_outcomes, _pairs(opairs))]
    by_mail = db.read_df(conn, sa.select(stg_crm_outcomes).where(_by_domain(stg_crm_outcomes.c.email, keys)))
    cands.append(by_mail[_match_email(by_mail, "email", keys)])
    sub.staging["crm_outcomes"] = (pd.concat([c for c in cands if len(c)], ignore_index=True)
                                   .drop_duplicates(["batch_id", "row_number"]).reset_index(drop=True)
                                   if any(len(c) for c in cands) else cands[0])

    sub.quarantine = _quarantined(conn, sub, id_source, rid_values)
    sub.handoff_ids = sorted(int(h) for (h,) in conn.execute(
        sa.select(handoffs.c.handoff_id).where(handoffs.c.person_id.in_(plist)))) if plist else []
    _collect_clear(conn, sub)
    return sub


def _values(rec: Any) -> list[str]:
    if isinstance(rec, dict):
        return [v for x in rec.values() for v in _values(x)]
    if isinstance(rec, list):
        return [v for x in rec for v in _values(x)]
    return [rec] if isinstance(rec, str) else []


def _quarantined(conn: Connection, sub: Subject, id_source: dict[str, str], rid_values: list[str]) -> pd.DataFrame:
    """Quarantined rows of the subject: of their landed rows, or whose record holds one of their
    addresses exactly, or their record id (for the source it belongs to)."""
    parts = []
    for kind, df in sub.staging.items():
        if len(df):
            for b, g in df.groupby("batch_id"):
                rows = sorted(int(r) for r in g["row_number"])
                parts.append(db.read_df(conn, sa.select(quarantine).where(
                    quarantine.c.kind == kind, quarantine.c.batch_id == int(b),
                    quarantine.c.row_number.in_(rows))))
    text = sa.func.lower(sa.cast(quarantine.c.record, sa.Text))
    cond = [text.contains("@" + d, autoescape=True) for d in sorted(_domains(sub.email_keys))]
    cond += [text.contains(r.lower(), autoescape=True) for r in rid_values]
    cand = db.read_df(conn, sa.select(quarantine).where(sa.or_(*cond)))
    if len(cand):
        vals = cand["record"].map(_values)
        # every address-shaped token of every value (a whole value, or inside a raw line)
        flat = vals.map(lambda vs: [t.rstrip(".") for v in vs for t in _TOKENS.findall(v)]).explode().dropna()
        hit_mail = _keys(flat).isin(sub.email_keys).groupby(level=0).any() if len(flat) else pd.Series(dtype=bool)
        src = cand["source"].map(id_source).fillna(cand["source"])
        hit_id = pd.Series([any(f"{s}\x1f{str(v).strip()}" in sub.record_keys for v in vs)
                            for s, vs in zip(src, vals)], index=cand.index)
        keep = hit_mail.reindex(cand.index, fill_value=False).astype(bool) | hit_id
        parts.append(cand[keep])
    parts = [p for p in parts if len(p)]
    if not parts:
        return db.read_df(conn, sa.select(quarantine).where(sa.false()))
    return pd.concat(parts, ignore_index=True).drop_duplicates("quarantine_id").reset_index(drop=True)


def _collect_clear(conn: Connection, sub: Subject) -> None:
    """The subject's values as stored (for scrubbing files) and their phones (for the tombstone)."""
    from leadflow.vocab.geo import country_iso2
    from leadflow.vocab.phones import to_e164
    ppl = db.read_df(conn, sa.select(people).where(people.c.person_id.in_(sub.person_ids))) \
        if sub.person_ids else pd.DataFrame(columns=[c.name for c in people.c])
    leads = sub.staging["inbound_leads"]
    emails = set(ppl["email_norm"].dropna())
    phones = set(ppl["phone_e164"].dropna())
    raw_phones: set[str] = set()
    names = set()
    for df, fn, ln in ((ppl, "first_name", "last_name"), (leads, "first_name", "last_name")):
        if len(df):
            full = (df[fn].astype("str").str.strip() + " " + df[ln].astype("str").str.strip()).dropna()
            names |= set(full)
    for df in sub.staging.values():
        if len(df) and "email" in df:
            emails |= {e.strip() for e in df["email"].dropna().astype(str)}
    if len(leads):
        e164 = to_e164(leads["phone"].astype(object), country_iso2(leads["country"].astype(object)))
        phones |= set(e164.dropna())
        raw_phones = {p.strip() for p in leads["phone"].dropna().astype(str) if p.strip()}
    sub.phones = {p for p in phones if isinstance(p, str)}
    if sub.filler:      # the strangers who typed it keep their names and phones
        sub.phones, raw_phones, names = set(), set(), set()
    sub.clear = {"emails": {e for e in emails if e}, "phones": sub.phones | raw_phones,
                 "names": {n for n in names if n.strip()}}
