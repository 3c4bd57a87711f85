"""Crowded blocking keys (leadflow/identity/crowding.py): a batch does not read every namesake
in the warehouse, and resolution still treats crowded values as the full read would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.clean import standardise_leads
from leadflow.identity import crowding, evidence, load_leads, rarity, store
from leadflow.identity.load import prepare_records, source_priority
from leadflow.identity.resolve import Encoded, Thresholds, match_keys
from leadflow.store import db
from leadflow.store.schema import people, person_records
from tests.identity_helpers import CONFIG, land

NAMESAKES = 25      # more than crowding.WEAK_CAP: the name pair "john|smith" is crowded


def _namesakes(n: int = NAMESAKES) -> list[dict]:
    """John Smiths at n different companies, each with an address of their own (local parts
    differ, so only the name pair is shared)."""
    return [{"source_record_id": f"w{i}", "email": f"jsmith{i}@firm{i}.io", "first_name": "John",
             "last_name": "Smith", "company": f"Firm{i} Ltd", "created_at": "2026-11-20 10:00"}
            for i in range(n)]


def _batch(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"source": "crm", "batch_id": 99, "row_number": i + 1,
                          "loaded_at": "2026-11-21 10:00", **r} for i, r in enumerate(rows)])


def test_a_batch_does_not_read_the_holders_of_a_crowded_name(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [*_namesakes(), {"source_record_id": "a1", "email": "anna.berg@acme.io",
                                  "first_name": "Anna", "last_name": "Berg", "company": "Acme GmbH"}], "web")
    load_leads(ctx)
    rec = prepare_records(_batch([{"first_name": "John", "last_name": "Smith", "email": "john.smith@newco.io",
                                   "company": "NewCo"},
                                  {"first_name": "Anna", "last_name": "Berg", "email": "a.berg@acme.io",
                                   "company": "Acme GmbH"}]), source_priority(ctx))
    with engine.connect() as c:
        capped, crowded = store.read_people_sharing_keys(c, rec, caps=crowding.caps(Thresholds().block_cap))
        full, none = store.read_people_sharing_keys(c, rec)
    anna = int(full.loc[full["first_name"] == "Anna", "person_id"].iloc[0])
    assert capped["person_id"].tolist() == [anna]          # Anna's keys are not crowded
    assert len(full) == NAMESAKES + 1 and none == {}
    assert crowded == {"n": ["john|smith"]}


def test_bare_names_of_a_crowded_name_stay_apart_as_with_a_full_read(engine, make_ctx) -> None:
    """Two CRM rows with nothing but "John Smith": among the few people read they would look
    like one rare name, but the warehouse holds 25 John Smiths: no merge, as when all are read."""
    ctx = make_ctx(CONFIG, engine)
    land(engine, _namesakes(), "web")
    load_leads(ctx)
    land(engine, [{"source_record_id": f"c{i}", "first_name": "John", "last_name": "Smith"} for i in (1, 2)], "crm")
    out = load_leads(ctx)
    assert out["created"] == 2 and out["merged"] == 0
    n = db.read_df(engine, sa.select(sa.func.count()).select_from(people)).iloc[0, 0]
    assert n == NAMESAKES + 2


def _encoded(rows: list[dict]) -> Encoded:
    st = standardise_leads(pd.DataFrame(rows))
    return Encoded(evidence.clean_keys(match_keys(st), st))


def test_node_masks_mark_every_holder_of_a_crowded_value() -> None:
    enc = _encoded([{"first_name": "John", "last_name": "Smith", "company": "Acme", "phone": "+49 30 1234567"},
                    {"first_name": "Smith", "last_name": "John", "company": "Other"},      # swapped: same pair
                    {"first_name": "John", "last_name": "Smyth", "company": "Acme"},
                    {"first_name": "Jane", "last_name": "Smith", "company": "Acme", "phone": "+49 30 1234567"}])
    m = crowding.node_masks(enc, {"n": ["john|smith"], "fc": ["john|acme"], "p": ["+49301234567"]})
    assert m["n"].tolist() == [True, True, False, False]
    assert m["fc"].tolist() == [True, False, True, False]
    assert m["p"].tolist() == [True, False, False, True]
    # the organisation word: a company name's first word, or the business domain's
    org = _encoded([{"first_name": "John", "last_name": "Smith", "company": "Acme Industries"},
                    {"first_name": "John", "last_name": "Doe", "email": "jd@acme-corp.com"},
                    {"first_name": "John", "last_name": "Roe", "company": "Other Acme"}])
    assert crowding.node_masks(org, {"fo": ["john|acme"]})["fo"].tolist() == [True, True, False]
    other = crowding.node_masks(enc, {"sc": ["nobody|acme"], "zz": ["x"]})
    assert not other["sc"].any() and "zz" not in other


def test_a_crowded_name_is_not_rare() -> None:
    """Rarity counts bearers among the people read; a crowded name's holders were not read, so
    the rule must not call it rare (two bare "John Smith" rows would otherwise merge)."""
    enc = _encoded([{"first_name": "John", "last_name": "Smith"}, {"first_name": "John", "last_name": "Smith"}])
    assert rarity.rare_masks(enc)["full"].all()
    enc.crowded = crowding.node_masks(enc, {"n": ["john|smith"]})
    assert not rarity.rare_masks(enc)["full"].any()


def test_caps_follow_the_block_caps() -> None:
    caps = crowding.caps(60)
    assert caps["n"] == caps["l"] == crowding.WEAK_CAP and caps["fc"] == caps["p"] == 60
    assert crowding.caps(3)["n"] == 3


@pytest.mark.parametrize("seed", [11, 3])
def test_crowding_gives_the_people_a_full_read_gives(tmp_path, seed, monkeypatch) -> None:
    """On the messy export loaded as two files, with block caps so low that many keys crowd,
    reading only uncrowded keys gives exactly the people that reading every holder gives."""
    from datetime import date

    from leadflow import config as cfg
    from leadflow.context import RunContext, make_run_id
    from tests.conftest import write_config
    from tests.identity_messy import messy_export

    df = messy_export(300, seed=seed)
    df = df.assign(source_record_id=df["source_record_id"].fillna(
        pd.Series([f"R{i:05d}" for i in range(len(df))], index=df.index))).drop(columns=["truth"])
    half = np.random.default_rng(5).random(len(df)) < 0.5
    th = Thresholds(block_cap=2)
    got, crowded_seen = {}, []
    real = store.read_people_sharing_keys

    def spy(conn, records, also=(), caps=None):
        out = real(conn, records, also, caps)
        crowded_seen.append(sum(len(v) for v in out[1].values()))
        return out

    for mode in ("capped", "full"):
        if mode == "full":
            monkeypatch.setattr(crowding, "caps", lambda block_cap: None)
        monkeypatch.setattr(store, "read_people_sharing_keys", spy)
        p = write_config(tmp_path / f"{mode}.yaml", CONFIG)
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/{mode}.db")
        ctx = RunContext(cfg.load(p), db.engine(f"sqlite:///{tmp_path}/{mode}.db"), date(2026, 11, 26),
                         make_run_id("test", date(2026, 11, 26)), "test")
        db.init(ctx.engine)
        for part in (df[half], df[~half]):
            land(ctx.engine, part, "crm")
            load_leads(ctx, th)
        pid = db.read_df(ctx.engine, sa.select(person_records.c.source_record_id, person_records.c.person_id))
        s = pid.set_index("source_record_id")["person_id"]
        got[mode] = {frozenset(g.index) for _, g in s.groupby(s)}
    assert max(crowded_seen) > 0, crowded_seen          # the second file did meet crowded keys
    assert got["capped"] == got["full"]
