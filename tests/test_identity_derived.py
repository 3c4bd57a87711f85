"""Derived record ids (``record_id: row_number`` / ``hash``) identify records, never people."""

from __future__ import annotations

import copy
import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.identity import load_leads
from leadflow.quality import validate_all
from leadflow.quality.testing import good_row, stage
from leadflow.store import db
from leadflow.store.schema import people, person_records, quarantine
from tests.identity_helpers import CONFIG, land

PEOPLE = [{"email": f"{f.lower()}.{la.lower()}@{co.lower()}.com", "first_name": f, "last_name": la,
           "company": co, "country": "DE"}
          for f, la, co in [("Anna", "Berg", "Acme"), ("Tom", "Lee", "Globex"), ("Ivo", "Marx", "Initech"),
                            ("Lea", "Roth", "Hooli"), ("Max", "Vogel", "Umbrella"), ("Ina", "Kern", "Soylent")]]


def _config(mode: str = "row_number") -> dict:
    doc = copy.deepcopy(CONFIG)
    web = next(s for s in doc["sources"] if s["name"] == "web")
    web["record_id"] = mode          # no id column mapped: leadflow derives <file>:<row>
    return doc


def test_shuffled_redelivery_with_row_number_ids_merges_nobody(engine, make_ctx) -> None:
    ctx = make_ctx(_config(), engine)
    land(engine, [{**p, "source_record_id": f"leads.csv:{i + 1}"} for i, p in enumerate(PEOPLE)], "web")
    load_leads(ctx)
    order = [3, 5, 0, 2, 4, 1]            # the same file, delivered again with its rows shuffled
    land(engine, [{**PEOPLE[j], "source_record_id": f"leads.csv:{k + 1}"} for k, j in enumerate(order)], "web")
    out = load_leads(ctx)
    # row 5 kept its place (same id, same values): an identical re-delivery, suppressed as such
    assert out["created"] == 0 and out["merged"] + out["suppressed"] == len(PEOPLE)
    assert out["suppressed"] == 1
    recs = db.read_df(engine, sa.select(person_records.c.email_norm, person_records.c.person_id,
                                        person_records.c.match_rule))
    assert (recs.groupby("person_id")["email_norm"].nunique() == 1).all()     # nobody merged
    assert (recs.groupby("email_norm")["person_id"].nunique() == 1).all()     # nobody split
    assert "source_key" not in set(recs["match_rule"])
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(people)).scalar() == len(PEOPLE)


def test_source_provided_ids_still_identify(engine, make_ctx) -> None:
    """The counterpart: a CRM's own id keeps matching a re-delivered record (rule source_key)."""
    ctx = make_ctx(CONFIG, engine)
    land(engine, [{**PEOPLE[0], "source_record_id": "L-1"}], "web")
    load_leads(ctx)
    land(engine, [{**PEOPLE[0], "email": "anna@private.example", "source_record_id": "L-1"}], "web")
    load_leads(ctx)
    recs = db.read_df(engine, sa.select(person_records.c.person_id, person_records.c.match_rule))
    assert recs["person_id"].nunique() == 1 and "source_key" in set(recs["match_rule"])


def test_lead_without_address_fails_identity_required_despite_a_derived_id(engine, make_ctx) -> None:
    doc = _config()
    doc["sources"][1]["quality"] = {"warn_share": 0.9, "fail_share": 1.0}
    ctx = make_ctx(doc, engine)
    rows = pd.DataFrame([good_row("inbound_leads", i) | {"source_record_id": f"leads.csv:{i + 1}"}
                         for i in range(4)]).drop(columns=["source"])
    rows.loc[2, "email"] = None
    bid = stage(engine, "inbound_leads", "web", rows)
    validate_all(ctx, docs=False)
    q = db.read_df(engine, sa.select(quarantine.c.batch_id, quarantine.c.row_number, quarantine.c.reasons,
                                     quarantine.c.record))
    assert [(int(b), int(r)) for b, r in zip(q["batch_id"], q["row_number"])] == [(bid, 3)]
    reasons = q["reasons"].iloc[0]
    assert "identity_required" in (reasons if isinstance(reasons, list) else json.loads(reasons))
    rec = q["record"].iloc[0]
    assert (rec if isinstance(rec, dict) else json.loads(rec))["source_record_id"] == "leads.csv:3"


def test_lead_without_address_passes_with_a_source_provided_id(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    rows = pd.DataFrame([good_row("inbound_leads", i) for i in range(3)]).drop(columns=["source"])
    rows.loc[1, "email"] = None
    stage(engine, "inbound_leads", "web", rows)
    validate_all(ctx, docs=False)
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar() == 0


@pytest.mark.slow
def test_daily_run_with_row_number_ids_and_a_shuffled_redelivery(tmp_path, db_url, monkeypatch) -> None:
    """The demo day with web leads that carry no id column (``record_id: row_number``), then the
    same web file delivered again with its rows shuffled: nobody merged, nobody handed off twice."""
    import yaml

    from leadflow import config as cfg
    from leadflow import demo, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.store.schema import handoffs
    from tests.conftest import demo_config

    run_date = date(2026, 11, 26)
    p = demo_config(tmp_path, db_url, monkeypatch)
    doc = yaml.safe_load(p.read_text())
    web = next(s for s in doc["sources"] if s["name"] == "web_leads")
    web["mapping"] = {k: v for k, v in web["mapping"].items() if v != "source_record_id"}
    web["record_id"] = "row_number"
    p.write_text(yaml.safe_dump(doc))
    demo.generate(tmp_path / "data", leads=400, seed=3, days=2, end_date=run_date)
    ctx = RunContext(cfg.load(p), db.engine(db_url), run_date, make_run_id("test", run_date), "test")
    pipeline.run_daily(ctx)
    eng = ctx.engine
    before = db.read_df(eng, sa.select(person_records.c.email_norm, person_records.c.person_id))
    n_people = len(db.read_df(eng, sa.select(people.c.person_id)))

    landing = tmp_path / "data" / "landing" / "web_leads"
    done = sorted(landing.rglob("leads_*.csv"))
    assert done, "no web leads file was processed"
    src = done[-1]
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.sample(frac=1.0, random_state=1).to_csv(landing / src.name, index=False)
    pipeline.run_daily(ctx)

    recs = db.read_df(eng, sa.select(person_records.c.email_norm, person_records.c.person_id))
    assert len(recs) > len(before)                                     # the re-delivery was loaded
    first = before.dropna().drop_duplicates("email_norm").set_index("email_norm")["person_id"]
    now = recs.dropna().groupby("email_norm")["person_id"].agg(set)
    assert all(now[e] == {first[e]} for e in first.index)            # same people, nobody merged
    assert len(db.read_df(eng, sa.select(people.c.person_id))) == n_people
    h = db.read_df(eng, sa.select(handoffs.c.person_id))
    assert len(h) > 0 and not h["person_id"].duplicated().any()       # nobody handed off twice
