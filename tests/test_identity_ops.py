"""Unmerge, the review list and erasure, on SQLite and PostgreSQL (functions and CLI)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.identity import load_leads, load_touches, ops
from leadflow.privacy.erase import erase
from leadflow.store import db
from leadflow.store.schema import match_reviews, merges, people, person_records, stg_inbound_leads, tombstones, touches
from tests.identity_helpers import CONFIG, count, land

ANNA = {"first_name": "Anna", "last_name": "Berg", "company": "Acme GmbH", "country": "DE",
        "phone": "+49 30 1234567"}


def _people(engine: sa.Engine) -> pd.DataFrame:
    return db.read_df(engine, sa.select(people).order_by(people.c.person_id))


def _setup_merged(engine: sa.Engine, ctx) -> int:
    land(engine, [{**ANNA, "source_record_id": "w1", "email": "anna.berg@acme.io"},
                  {**ANNA, "source_record_id": "w2", "email": "anna.berg@acme.io"},
                  {**ANNA, "source_record_id": "w3", "email": "aberg@acme.io", "job_title": "CMO"}], "web")
    out = load_leads(ctx)
    assert out["created"] == 1
    land(engine, [{"source_touch_id": "t1", "touch_type": "webinar", "email": "aberg@acme.io",
                   "occurred_at": "2026-11-25 10:00"},
                  {"source_touch_id": "t2", "touch_type": "download", "email": "anna.berg@acme.io",
                   "occurred_at": "2026-11-25 11:00"}], "events", kind="touches")
    load_touches(ctx)
    return int(_people(engine)["person_id"].iloc[0])


def test_unmerge_restores_separate_people_and_is_remembered(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    pid = _setup_merged(engine, ctx)
    out = ops.unmerge(ctx, pid)
    assert out["records_moved"] == 1 and len(out["new_person_ids"]) == 1
    new = out["new_person_ids"][0]
    p = _people(engine).set_index("person_id")
    assert p.loc[pid, "email_norm"] == "anna.berg@acme.io" and p.loc[new, "email_norm"] == "aberg@acme.io"
    assert p.loc[new, "job_title"] == "CMO" and p.loc[new, "first_name"] == "Anna"
    rec = db.read_df(engine, sa.select(person_records))
    assert rec.groupby("person_id").size().to_dict() == {pid: 2, new: 1}
    t = db.read_df(engine, sa.select(touches)).set_index("source_touch_id")
    assert t.loc["t1", "person_id"] == new and t.loc["t2", "person_id"] == pid
    rv = db.read_df(engine, sa.select(match_reviews))
    assert rv[["person_a", "person_b", "status"]].values.tolist() == [[pid, new, "rejected"]]
    # the same person shows up again in a later batch: not silently re-merged
    land(engine, [{**ANNA, "source_record_id": "w8", "email": "anna.berg+x@acme.io"},
                  {**ANNA, "source_record_id": "w9", "email": "a.berg@acme.io"}], "web")
    load_leads(ctx)
    assert count(engine, people) == 2
    assert db.read_df(engine, sa.select(match_reviews))["status"].tolist() == ["rejected"]


def test_unmerge_single_record_and_errors(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    pid = _setup_merged(engine, ctx)
    rec = db.read_df(engine, sa.select(person_records).order_by(person_records.c.record_id))
    with pytest.raises(ops.IdentityError, match="no person"):
        ops.unmerge(ctx, 999)
    with pytest.raises(ops.IdentityError, match="does not belong"):
        ops.unmerge(ctx, pid, record_id=12345)
    out = ops.unmerge(ctx, pid, record_id=int(rec["record_id"].iloc[2]))
    assert out["records_moved"] == 1
    with pytest.raises(ops.IdentityError, match="single identity"):
        ops.unmerge(ctx, pid)


def test_review_list_merge_and_reject(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    land(engine, [
        {"source_record_id": "w1", "email": "kai.norden@initech.com", "first_name": "Kai",
         "last_name": "Norden", "company": "Initech"},
        {"source_record_id": "w2", "email": "kainorden77@gmail.com", "first_name": "Kai",
         "last_name": "Norden"},
        {"source_record_id": "w3", "email": "lea.vogel@initech.com", "first_name": "Lea",
         "last_name": "Vogel", "company": "Initech"},
        {"source_record_id": "w4", "email": "vogel.l@web.de", "first_name": "Lea", "last_name": "Vogel"},
    ], "web")
    load_leads(ctx)
    open_ = ops.review_list(engine)
    assert len(open_) == 2
    first, second = (int(x) for x in open_["review_id"])
    merged = ops.review_merge(ctx, first)
    ops.review_reject(ctx, second)
    assert count(engine, people) == 3
    assert count(engine, person_records, person_records.c.person_id == merged["survivor_id"]) == 2
    assert count(engine, merges) == 1
    assert ops.review_list(engine).empty
    assert sorted(ops.review_list(engine, "rejected")["review_id"]) == [second]
    with pytest.raises(ops.IdentityError, match="already"):
        ops.review_merge(ctx, second)
    # a merge made by review can be undone: the records are restored into separate people
    out = ops.unmerge(ctx, merged["survivor_id"])
    assert len(out["new_person_ids"]) == 1 and count(engine, people) == 4
    assert db.read_df(engine, sa.select(merges))["undone_at"].notna().all()


def test_erase_blanks_pii_and_suppresses_later_records(engine, make_ctx) -> None:
    ctx = make_ctx(CONFIG, engine)
    pid = _setup_merged(engine, ctx)
    out = erase(ctx, " Anna.Berg@ACME.io ")
    assert out["person_ids"] == [pid] and out["tables"]["stg_inbound_leads"] == 3
    p = _people(engine).set_index("person_id").loc[pid]
    assert p["erased_at"] is not None and pd.isna(p["email_norm"]) and pd.isna(p["first_name"])
    assert bool(p["opt_out"]) and bool(p["do_not_contact"])
    stg = db.read_df(engine, sa.select(stg_inbound_leads))
    assert stg["email"].isna().all() and stg["last_name"].isna().all()
    assert count(engine, tombstones, tombstones.c.kind == "email_norm_untagged") == 2   # both addresses
    land(engine, [{**ANNA, "source_record_id": "w7", "email": "anna.berg@acme.io"}], "web")
    res = load_leads(ctx)
    assert res["suppressed"] == 1 and res["created"] == 0
    st = db.read_df(engine, sa.select(stg_inbound_leads.c.state, stg_inbound_leads.c.state_reason)
                    .where(stg_inbound_leads.c.state == "suppressed"))
    assert st["state_reason"].tolist() == ["erased"]


def test_cli_people_commands(engine, make_ctx, tmp_path, monkeypatch, capsys) -> None:
    from leadflow.cli import main
    ctx = make_ctx(CONFIG, engine)
    pid = _setup_merged(engine, ctx)
    cfg_path = str(tmp_path / "leadflow.yaml")
    assert main(["people", "show", str(pid), "--config", cfg_path]) == 0
    assert "fuzzy:" in capsys.readouterr().out
    assert main(["people", "review", "list", "--config", cfg_path]) == 0
    assert main(["people", "unmerge", str(pid), "--config", cfg_path]) == 0
    assert "moved to new person" in capsys.readouterr().out
    assert main(["people", "review", "frobnicate", "1", "--config", cfg_path]) == 2
    assert main(["people", "erase", "--email", "aberg@acme.io", "--config", cfg_path]) == 0
    printed = capsys.readouterr()
    assert "aberg" not in printed.out + printed.err and "erased person id(s)" in printed.out
    assert main(["people", "show", "424242", "--config", cfg_path]) == 2
