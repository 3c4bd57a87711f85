"""Blocking keys of the warehouse (leadflow/identity/keys.py): a record of a later file must meet
every person it would have been compared with had both come in one file."""

from __future__ import annotations

import pandas as pd

from leadflow.clean import standardise_leads
from leadflow.identity.keys import key_hashes


def _shared(a: dict, b: dict) -> set[int]:
    kh = key_hashes(standardise_leads(pd.DataFrame([a, b])))
    return set(kh.loc[kh["row"] == 0, "key_hash"]) & set(kh.loc[kh["row"] == 1, "key_hash"])


def test_a_company_name_meets_the_domain_it_names() -> None:
    crm = {"first_name": "Björn", "last_name": None, "company": "Stark Industries Ltd"}
    mailbox = {"first_name": "Björn", "last_name": "Dubois", "email": "bjorn.dubois@stark.com"}
    assert _shared(crm, mailbox)
    assert not _shared(crm, {**mailbox, "email": "bjorn.dubois@globex.com"})


def test_a_name_spelled_by_the_local_part_meets_the_typed_name() -> None:
    """A person whose family name is only in ``martamartinez@`` meets a later "Marta Martínez"."""
    mailbox = {"first_name": "Marta", "last_name": "xxx", "company": "Cyberdyne", "email": "martamartinez@cyberdyne.se"}
    crm = {"first_name": "marta", "last_name": "Martínez", "company": None}
    assert _shared(mailbox, crm)


def test_keys_built_in_chunks_are_the_keys_of_the_whole() -> None:
    """A row's keys depend on that row alone, so building them a chunk at a time (what bounds
    the first load's memory) gives the same (row, key) pairs as one pass, junk rows included."""
    from tests.identity_messy import messy_export
    raw = messy_export(60, seed=5).drop(columns=["truth"])
    st = standardise_leads(raw).set_axis(range(100, 100 + len(raw)))      # an index not from 0
    whole = key_hashes(st, chunk=len(st) + 1)
    assert len(whole) > 5 * len(st)
    for chunk in (13, 40, len(st) - 1):
        got = key_hashes(st, chunk=chunk)
        pd.testing.assert_frame_equal(got.sort_values(["row", "key_hash"], ignore_index=True),
                                      whole.sort_values(["row", "key_hash"], ignore_index=True))
