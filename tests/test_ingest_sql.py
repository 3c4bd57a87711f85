"""SQL connector: a query through SQLAlchemy with an incremental watermark."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from leadflow.ingest import land
from leadflow.store.schema import ingest_batches
from tests.ingest_helpers import quarantined, rows


def _crm(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("CREATE TABLE leads (id INTEGER, email TEXT, size TEXT, updated_at TEXT)"))
        c.execute(sa.text("INSERT INTO leads VALUES (1,'a@x.com','10','2026-11-01 10:00:00'),"
                          "(2,'b@x.com','many','2026-11-02 10:00:00')"))
    eng.dispose()
    return url


def _source() -> dict:
    return {"name": "crm_leads", "owner": "ops", "kind": "inbound_leads",
            "connector": {"type": "sql", "url_env": "CRM_URL", "watermark_column": "updated_at",
                          "initial_watermark": "1970-01-01",
                          "query": "SELECT id, email, size, updated_at FROM leads "
                                   "WHERE updated_at > :watermark ORDER BY updated_at"},
            "mapping": {"id": "source_record_id", "email": "email", "size": "company_size",
                        "updated_at": "created_at"}}


def test_incremental_watermark(tmp_path, make_ctx, engine, monkeypatch):
    url = _crm(tmp_path)
    monkeypatch.setenv("CRM_URL", url)
    ctx = make_ctx({"sources": [_source()]}, engine)
    r = land(ctx)[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 2, 1, 1)
    assert "company_size" in quarantined(engine)[0]["reasons"][0]
    with engine.connect() as c:
        assert c.execute(sa.select(ingest_batches.c.watermark)).scalar() == "2026-11-02 10:00:00"
    # nothing new: no batch at all
    assert land(ctx)[0]["status"] == "empty"
    # one new row: only it is read
    crm = sa.create_engine(url)
    with crm.begin() as c:
        c.execute(sa.text("INSERT INTO leads VALUES (3,'c@x.com','5','2026-11-03 09:00:00')"))
    crm.dispose()
    r3 = land(ctx)[0]
    assert (r3["rows_in"], r3["rows_landed"]) == (1, 1) and "2026-11-02 10:00:00" in r3["uri"]
    assert [x["source_record_id"] for x in rows(engine)] == ["1", "3"]


def test_broken_query_fails_with_source_named(tmp_path, make_ctx, engine, monkeypatch):
    monkeypatch.setenv("CRM_URL", _crm(tmp_path))
    src = _source()
    src["connector"]["query"] = "SELECT nope FROM missing_table"
    ctx = make_ctx({"sources": [src]}, engine)
    r = land(ctx)[0]
    assert r["status"] == "failed" and r["error"].startswith("source crm_leads, query sql:crm_leads")
    assert "missing_table" in r["error"] and rows(engine) == []


def test_unset_url_env(make_ctx, engine, monkeypatch):
    monkeypatch.delenv("CRM_URL", raising=False)
    ctx = make_ctx({"sources": [_source()]}, engine)
    r = land(ctx)[0]
    assert r["status"] == "failed" and "CRM_URL" in r["error"]
