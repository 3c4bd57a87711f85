"""Survivorship: majority value, ties to the trusted then the recent record, junk never wins;
``people show`` says which record supplied which field."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from leadflow.clean import standardise_leads
from leadflow.identity import evidence, load_leads
from leadflow.identity.golden import golden
from leadflow.identity.survivorship import vote
from leadflow.store import db
from leadflow.store.schema import people
from tests.identity_helpers import CONFIG, land

ANNA = {"email": "anna.berg@acme.io", "first_name": "Anna", "last_name": "Berg", "company": "Acme GmbH",
        "phone": "+49 30 1234567", "country": "DE"}


def _records(rows: list[dict], priority: list[int], days: list[int]) -> pd.DataFrame:
    raw = pd.DataFrame(rows)
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    return st.assign(pkey="p1", priority=priority, source=["src"] * len(rows), campaign_id=None, channel=None,
                     record_time=pd.Timestamp("2026-11-01") + pd.to_timedelta(days, unit="D"))


def test_junk_from_the_most_trusted_source_loses_to_a_clean_value() -> None:
    recs = _records([{**ANNA, "first_name": '=HYPERLINK("http://x","Anna")', "last_name": "test",
                      "company": "'; DROP TABLE leads;--", "phone": "0000000000"}, ANNA],
                    priority=[1, 50], days=[9, 1])
    g = golden(recs, "pkey").iloc[0]
    assert (g["first_name"], g["last_name"], g["company"], g["phone_e164"]) == \
        ("Anna", "Berg", "Acme GmbH", "+49301234567")


def test_only_junk_leaves_the_field_empty_not_junk() -> None:
    g = golden(_records([{**ANNA, "company": "N/A", "last_name": "😀😀"}], [1], [0]), "pkey").iloc[0]
    assert pd.isna(g["company"]) and pd.isna(g["company_norm"]) and pd.isna(g["last_name"])
    assert g["first_name"] == "Anna"


def test_majority_wins_then_trusted_then_recent() -> None:
    recs = _records([{**ANNA, "company": "Globex Inc."}, {**ANNA, "company": "ACME GmbH"},
                     {**ANNA, "company": "Acme GmbH", "first_name": "ANNA"}],
                    priority=[1, 50, 50], days=[5, 1, 2])
    g = golden(recs, "pkey").iloc[0]
    assert g["company_norm"] == "acme"              # two records agree, the trusted one is alone
    assert g["company"] == "Acme GmbH"              # display value from the most recent of the two
    tie = _records([{**ANNA, "city": "Berlin"}, {**ANNA, "city": "Hamburg"}], [50, 5], [9, 1])
    assert golden(tie, "pkey").iloc[0]["city"] == "Hamburg"           # tie: the trusted source
    tie2 = _records([{**ANNA, "city": "Berlin"}, {**ANNA, "city": "Hamburg"}], [5, 5], [9, 1])
    assert golden(tie2, "pkey").iloc[0]["city"] == "Berlin"           # then the most recent


def test_vote_names_the_record_behind_each_field() -> None:
    recs = _records([{**ANNA, "first_name": "asdf"}, {**ANNA, "phone": None}], [1, 50], [9, 1])
    recs.index = [10, 20]
    values, src = vote(recs, "pkey", ["first_name", "phone_e164", "company_norm", "company"])
    assert values.loc["p1", "first_name"] == "Anna" and src.loc["p1", "first_name"] == 20
    assert src.loc["p1", "phone_e164"] == 10
    assert src.loc["p1", "company"] == src.loc["p1", "company_norm"]


def test_people_show_lists_records_with_source_address_and_supplied_fields(engine, make_ctx, tmp_path,
                                                                            capsys) -> None:
    from leadflow.cli import main
    ctx = make_ctx(CONFIG, engine)
    land(engine, [{**ANNA, "first_name": "=cmd|' /C calc'!A0", "source_record_id": "c1",
                   "created_at": "2026-11-20"}], "crm")
    land(engine, [{**ANNA, "email": "anna.berg+web@acme.io", "phone": None, "source_record_id": "w1",
                   "created_at": "2026-11-10"}], "web")
    load_leads(ctx)
    p = db.read_df(engine, sa.select(people.c.person_id, people.c.first_name))
    assert len(p) == 1 and p["first_name"].iloc[0] == "Anna"      # the junk CRM value lost
    assert main(["people", "show", str(int(p["person_id"].iloc[0])), "--config", str(tmp_path / "leadflow.yaml")]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("record ")]
    crm = next(ln for ln in lines if "from crm, address anna.berg@acme.io" in ln)
    web = next(ln for ln in lines if "from web, address anna.berg+web@acme.io" in ln)
    assert "phone_e164" in crm and "first_name" not in crm
    assert "first_name" in web
