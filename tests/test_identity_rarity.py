"""Rare names (leadflow/identity/rarity.py): a name only one person bears ties a record that has
nothing else, and a later namesake reopens that merge so the people do not depend on the file
split. Pure resolution, then the load on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.clean import standardise_leads
from leadflow.identity import evidence, load_leads
from leadflow.identity.resolve import resolve
from leadflow.store import db
from leadflow.store.schema import handoffs, match_reviews, merges, people, person_records
from leadflow.vocab.emails import email_hash_of
from tests.identity_helpers import CONFIG, land

NAME = {"first_name": "Zacharias", "last_name": "Quennell", "country": "DE"}
ACME = {**NAME, "company": "Acme GmbH", "email": "zacharias.quennell@acme.io", "source_record_id": "a1"}
CRM = {**NAME, "company": "N/A", "source_record_id": "c1"}                    # a name and nothing else
GLOBEX = {**NAME, "company": "Globex Inc", "email": "z.quennell@globex.com", "source_record_id": "g1"}
PERSONAL = {**NAME, "company": "Acme", "email": "zq1980@gmail.com", "source_record_id": "p1"}


def _clusters(rows: list[dict]) -> tuple[list[int], pd.DataFrame]:
    raw = pd.DataFrame(rows)
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    assign, _ = resolve(st)
    return pd.factorize(assign["cluster"])[0].tolist(), assign


def test_a_rare_name_ties_a_record_with_nothing_else() -> None:
    groups, assign = _clusters([ACME, CRM])
    assert groups == [0, 0]
    assert "rare" in assign["match_rule"].iloc[1]


def test_a_name_two_organisations_bear_ties_nothing() -> None:
    groups, _ = _clusters([ACME, CRM, GLOBEX])
    assert groups == [0, 1, 2]


def test_two_addresses_are_not_tied_by_a_name() -> None:
    """A personal address without an organisation is a namesake as likely as the same person."""
    groups, _ = _clusters([ACME, {**NAME, "email": "zq1980@gmail.com", "source_record_id": "p2"}])
    assert groups == [0, 1]


def _load(ctx, *files: list[dict]) -> list[dict]:
    out = []
    for rows in files:
        land(ctx.engine, rows, "crm")
        out.append(load_leads(ctx))
    return out


def _partition(engine) -> set[frozenset[str]]:
    pr = db.read_df(engine, sa.select(person_records.c.source_record_id, person_records.c.person_id))
    return {frozenset(g["source_record_id"]) for _, g in pr.groupby("person_id")}


def test_later_namesake_reopens_the_rare_merge(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    first, = _load(ctx, [ACME, CRM])
    assert first["created"] == 1
    pid = int(db.read_df(engine, sa.select(people.c.person_id))["person_id"].iloc[0])
    with engine.begin() as c:       # a rep holds the person already
        c.execute(handoffs.insert().values(person_id=pid, cycle=1, owner_rep="r1", route_rule="fallback",
                                           qualified_by="threshold", run_date=date(2026, 11, 26),
                                           handed_off_at=datetime(2026, 11, 26, 9, 0)))
    second, = _load(ctx, [GLOBEX])
    assert second["people_reopened"] == 1
    assert _partition(engine) == {frozenset({"a1"}), frozenset({"c1"}), frozenset({"g1"})}
    pr = db.read_df(engine, sa.select(person_records)).set_index("source_record_id")
    assert pr.loc["a1", "person_id"] == pid                           # the founding record keeps the person
    assert pr.loc["c1", "match_rule"] == "reopened"
    h = db.read_df(engine, sa.select(handoffs))
    assert h["person_id"].tolist() == [pid]                          # and its handoff
    rv = db.read_df(engine, sa.select(match_reviews))
    assert not (rv["status"] == "rejected").any()                    # reopening decides nothing for good
    p = db.read_df(engine, sa.select(people.c.email_norm, people.c.email_hash))
    assert p["email_hash"].fillna("-").tolist() == [email_hash_of(e) or "-" for e in p["email_norm"]]
    assert p["email_hash"].notna().sum() == 2


def test_reopened_groups_join_again_on_other_evidence(engine, make_ctx) -> None:
    """The personal address joined on name + organisation, not on the rare name: after the
    reopen it is back with the mailbox; only the name-only row stays apart."""
    ctx = make_ctx(CONFIG, engine)
    _load(ctx, [ACME, PERSONAL, CRM])
    assert _partition(engine) == {frozenset({"a1", "p1", "c1"})}
    second, = _load(ctx, [GLOBEX])
    assert second["people_reopened"] == 1 and second["people_joined"] == 1
    assert _partition(engine) == {frozenset({"a1", "p1"}), frozenset({"c1"}), frozenset({"g1"})}
    m = db.read_df(engine, sa.select(merges))
    assert m["rule"].tolist() == ["bridged"]


@pytest.mark.parametrize("order", [[[ACME, PERSONAL, CRM, GLOBEX]], [[ACME, CRM], [PERSONAL, GLOBEX]],
                                   [[GLOBEX], [CRM, ACME, PERSONAL]], [[CRM], [ACME], [GLOBEX], [PERSONAL]],
                                   [[CRM, PERSONAL], [GLOBEX, ACME]]],
                         ids=["one-file", "ab", "ba", "one-by-one", "crm-first"])
def test_same_rows_same_people_in_any_split(engine, make_ctx, order) -> None:
    ctx = make_ctx(CONFIG, engine)
    _load(ctx, *order)
    assert _partition(engine) == {frozenset({"a1", "p1"}), frozenset({"c1"}), frozenset({"g1"})}


def test_another_record_of_the_person_reopens_nothing(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    _load(ctx, [ACME, CRM])
    again, = _load(ctx, [{**ACME, "source_record_id": "a2", "job_title": "CFO"}])
    assert again["people_reopened"] == 0
    assert _partition(engine) == {frozenset({"a1", "a2", "c1"})}


BARE = {**NAME, "source_record_id": "b1"}
JUNK_PERSONAL = {**NAME, "company": "😀😀😀", "email": "zacharias.quennell96@yahoo.com", "source_record_id": "p9"}
CRM_ACME = {**NAME, "company": "Acme, Inc", "source_record_id": "c2"}


@pytest.mark.parametrize("order", [[[BARE, JUNK_PERSONAL, CRM_ACME], [ACME]], [[ACME], [BARE, JUNK_PERSONAL, CRM_ACME]],
                                   [[BARE, JUNK_PERSONAL, CRM_ACME, ACME]]], ids=["mailbox-later", "mailbox-first",
                                                                               "one-file"])
def test_a_golden_record_lends_nothing_a_rare_name_tied(engine, make_ctx, order) -> None:
    """A bare name, a personal address with junk for a company and a CRM row at Acme are one
    person by the rare name; the person's golden record then shows the personal address with
    Acme. When the Acme mailbox comes, the name has two identities holding an address (in one
    file the personal record shows no company, so nothing joins it to the mailbox): the rare
    link is reopened, as one file would have it."""
    ctx = make_ctx(CONFIG, engine)
    _load(ctx, *order)
    assert _partition(engine) == {frozenset({"b1"}), frozenset({"p9"}), frozenset({"c2", "a1"})}


UNREADABLE = {**NAME, "email": "zq@@mail,com", "source_record_id": "u1"}     # typed, but no address


def test_an_unreadable_address_is_someone_too() -> None:
    """An address typed but unreadable is an identity of its own (a namesake who mistyped), not
    a blank: the rare name does not tie it."""
    groups, _ = _clusters([ACME, UNREADABLE])
    assert groups == [0, 1]


@pytest.mark.parametrize("order", [[[ACME, UNREADABLE]], [[UNREADABLE], [ACME]], [[ACME], [UNREADABLE]]],
                         ids=["one-file", "unreadable-first", "unreadable-later"])
def test_an_unreadable_address_stays_someone_in_the_warehouse(engine, make_ctx, order) -> None:
    """A person whose record had an unreadable address has no address in the warehouse; the
    load reads the flag from their landed rows, so the split does not matter."""
    ctx = make_ctx(CONFIG, engine)
    _load(ctx, *order)
    assert _partition(engine) == {frozenset({"a1"}), frozenset({"u1"})}
