"""Junk is not evidence: shape rules on raw values, spread rules, the address standing in."""

from __future__ import annotations

import pandas as pd

from leadflow.clean import standardise_leads
from leadflow.identity import evidence
from leadflow.identity.resolve import match_keys, resolve

JUNK = ['=HYPERLINK("http://x","Bob")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "'; DROP TABLE leads;--",
        "1' OR '1'='1", "SELECT * FROM users", "😀😀", "???", "Select", "N/A", "n/a", "test", "TEST",
        "asdf", "qwerty", "-", "xxx", "aaaa", "null", "<script>alert(1)</script>", "http://spam.example"]
REAL = ["José", "O'Brien", "Jean-Luc", "王伟", "Müller GmbH", "AT&T", "Ng", "Li", "D'Angelo", "Ørsted",
        "3M", "Procter & Gamble", "St. John", "Zoë", "McDonald", "Selectica", "Testa", "Update Software AG"]


def test_shapes() -> None:
    got = evidence.junk_values(pd.Series(JUNK + REAL + [None]))
    assert got[:len(JUNK)].all(), [v for v, j in zip(JUNK, got) if not j]
    assert not got[len(JUNK):].any(), [v for v, j in zip(REAL + [None], got[len(JUNK):]) if j]


def test_phones() -> None:
    got = evidence.junk_values(pd.Series(["0000000000", "=1+1", "12", "1234567890", "+49 30 1234567",
                                          "(617) 555-0101"]), phone=True)
    assert got.tolist() == [True, True, True, True, False, False]


def test_flags_come_from_raw_values_before_cleaning_hides_them() -> None:
    raw = pd.DataFrame({"first_name": ['=HYPERLINK("http://x","Bob")', "Bob"], "last_name": ["Lee", "Lee"],
                        "company": ["Acme", "@SUM(1+1)"], "phone": [None, "=1+1"], "email": [None, None]})
    st = standardise_leads(raw)
    assert st["first_name"].iloc[0]                 # cleaning turns the formula into letters ...
    flags = evidence.add_junk_flags(st, raw)
    assert flags["junk_first_name"].tolist() == [True, False]   # ... the raw value gives it away
    assert flags["junk_company"].tolist() == [False, True]


def test_a_phone_typed_for_many_addresses_is_no_evidence() -> None:
    rows = [{"email": f"p{i}@gmail.com", "first_name": "Ann", "last_name": "Lee", "phone": "+44 20 7946 0000"}
            for i in range(evidence.PHONE_MAX_EMAILS + 1)]
    assign, _ = resolve(standardise_leads(pd.DataFrame(rows)))
    assert assign["cluster"].nunique() == len(rows)
    few = rows[:2]          # two addresses, one name, one phone: a person with two mailboxes
    assign, _ = resolve(standardise_leads(pd.DataFrame(few)))
    assert assign["cluster"].nunique() == 1


def test_the_address_stands_in_for_a_junk_name() -> None:
    rows = [{"email": "b.novak@umbrella-corp.de", "first_name": "Select", "last_name": "Novák", "company": "Umbrella"},
            {"email": None, "source_record_id": "c1", "first_name": "Bruno", "last_name": "Novák",
             "company": "Umbrella", "phone": "+49 30 1234567"},
            {"email": "anna.silva@soylent.fr", "first_name": "Anna", "last_name": "test", "company": "N/A"},
            {"email": None, "source_record_id": "c2", "first_name": "Anna", "last_name": "Silva", "company": "Soylent"}]
    raw = pd.DataFrame(rows)
    assign, _ = resolve(evidence.add_junk_flags(standardise_leads(raw), raw))
    c = assign["cluster"].tolist()
    assert c[0] == c[1] and c[2] == c[3] and c[0] != c[2]


MARTA = {"first_name": "Marta", "last_name": "xxx", "company": "Cyberdyne Inc.", "email": "martamartinez@cyberdyne.se"}


def test_a_local_part_without_separator_gives_the_name_the_typed_one_starts() -> None:
    """``martamartinez@`` with the given name Marta typed and the family name junk: the rest of
    the local part is the family name (and the other way round); nothing is read when the
    local part does not start or end with the typed name, or the rest is too short to be one."""
    rows = [MARTA, {**MARTA, "first_name": "N/A", "last_name": "Martínez"},
            {**MARTA, "email": "mmartinez@cyberdyne.se"}, {**MARTA, "email": "martab@cyberdyne.se"}]
    raw = pd.DataFrame(rows)
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    k = evidence.clean_keys(match_keys(st), st)
    assert k["last_k"].tolist()[:2] == ["martinez", "martinez"]
    assert k["first_raw"].tolist()[:2] == ["marta", "marta"]
    assert k["last_k"].isna().tolist()[2:] == [True, True]


def test_the_name_read_from_a_local_part_ties_a_rare_name() -> None:
    rows = [MARTA, {"first_name": "marta", "last_name": "Martínez", "company": '=HYPERLINK("http://x","y")',
                    "source_record_id": "c1"}]
    raw = pd.DataFrame(rows)
    assign, _ = resolve(evidence.add_junk_flags(standardise_leads(raw), raw))
    assert assign["cluster"].nunique() == 1
