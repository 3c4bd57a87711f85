"""Subject access request: ``leadflow people export --email X`` returns everything held about a
person, as JSON, from every table (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from leadflow.identity import load_leads, load_touches
from leadflow.privacy import export
from leadflow.store.schema import metadata, quarantine
from tests.identity_helpers import CONFIG, STRANGERS_BEHIND_A_FILLER, land

ANN = {"first_name": "Ann", "last_name": "Berg", "company": "Acme GmbH", "country": "DE",
       "phone": "+49 30 1234567"}


def _setup(engine, make_ctx):
    ctx = make_ctx(CONFIG, engine)
    land(engine, [{**ANN, "source_record_id": "w1", "email": "ann@acme.io"},
                  {**ANN, "source_record_id": "w2", "email": "Ann+promo@acme.io"},
                  {"source_record_id": "w3", "email": "nann@acme.io", "first_name": "Nan"}])
    load_leads(ctx)
    land(engine, [{"source_touch_id": "t1", "touch_type": "webinar", "email": "ann@acme.io",
                   "occurred_at": "2026-11-25 10:00"},
                  {"source_touch_id": "t2", "touch_type": "webinar", "email": "nann@acme.io",
                   "occurred_at": "2026-11-25 10:00"}], "events", kind="touches")
    load_touches(ctx)
    with engine.begin() as c:
        c.execute(quarantine.insert().values(
            source="web", kind="inbound_leads", batch_id=99, row_number=1, stage="ingest",
            record={"Email": "ANN@acme.io", "Employees": "lots"}, reasons=["company_size"],
            status="open", created_at=datetime(2026, 11, 26)))
    return ctx


def test_export_holds_every_table_with_the_persons_rows(engine, make_ctx) -> None:
    ctx = _setup(engine, make_ctx)
    out = export.export(ctx, "ann@acme.io")
    json.dumps(out)                                   # plain JSON, nothing exotic
    assert set(out["tables"]) == set(metadata.tables) - set(export.NOT_PERSONAL)
    t = out["tables"]
    assert len(t["people"]) == 1 and t["people"][0]["first_name"] == "Ann"
    assert len(t["person_records"]) == 2
    assert sorted(r["email"] for r in t["stg_inbound_leads"]) == ["Ann+promo@acme.io", "ann@acme.io"]
    assert [r["source_touch_id"] for r in t["touches"]] == ["t1"]
    assert len(t["stg_touches"]) == 1 and len(t["lifecycle_events"]) == 1
    assert [r["record"]["Email"] for r in t["quarantine"]] == ["ANN@acme.io"]
    assert "nann" not in json.dumps(out).lower()      # the neighbour is not exported


def test_export_unknown_address_is_empty_and_invalid_is_an_error(engine, make_ctx) -> None:
    ctx = _setup(engine, make_ctx)
    out = export.export(ctx, "nobody@acme.io")
    assert out["person_ids"] == [] and all(v == [] for v in out["tables"].values())
    from leadflow.errors import LeadflowError
    with pytest.raises(LeadflowError, match="not a valid email"):
        export.export(ctx, "not-an-address")


def test_cli_people_export(engine, make_ctx, tmp_path, capsys) -> None:
    from leadflow.cli import main
    _setup(engine, make_ctx)
    cfg_path = str(tmp_path / "leadflow.yaml")
    assert main(["people", "export", "--email", "ann@acme.io", "--config", cfg_path]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tables"]["people"][0]["last_name"] == "Berg"
    target = tmp_path / "sar.json"
    assert main(["people", "export", "--email", "ann@acme.io", "--out", str(target), "--config", cfg_path]) == 0
    assert "ann@acme.io" not in capsys.readouterr().out          # only the path and counts on screen
    assert json.loads(target.read_text())["tables"]["people"][0]["first_name"] == "Ann"


def test_tables_with_personal_columns_are_never_declared_not_personal() -> None:
    """Guard: a new table with a person or address column must be exported."""
    personal = {"person_id", "person_a", "survivor_id", "email", "email_norm", "record"}
    for t in metadata.sorted_tables:
        if personal & set(t.c.keys()):
            assert t.name not in export.NOT_PERSONAL, t.name


def test_export_of_a_filler_address_shows_where_it_was_typed_not_who_typed_it(engine, make_ctx) -> None:
    """Strangers type noemail@gmail.com; whoever asks what is held about it learns the rows that
    hold the address, never the names or phones the strangers typed beside it."""
    ctx = make_ctx(CONFIG, engine)
    land(engine, STRANGERS_BEHIND_A_FILLER)
    load_leads(ctx)
    out = export.export(ctx, "noemail@gmail.com")
    assert out["person_ids"] == []
    assert sorted(r["email"].lower() for r in out["tables"]["stg_inbound_leads"]) == ["noemail@gmail.com"] * 2
    text = json.dumps(out)
    assert "Stone" not in text and "7946" not in text and "f2" not in text
