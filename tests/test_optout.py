"""Opt-outs: a signal on any record of a person (landed, quarantined, rejected at ingest, an
unsubscribe touch) suppresses them, and every later run, of any date, withdraws their open
handoff, logs it once and keeps them out of lists and email."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.cli import main
from leadflow.handoff import deliver, queue
from leadflow.handoff import synthetic as syn
from leadflow.identity import load_leads, load_touches
from leadflow.ingest import land
from leadflow.quality import validate_all
from leadflow.store import contact_blocks, db
from leadflow.store.schema import contact_blocks as blocks_t
from leadflow.store.schema import handoffs, people, person_records, quarantine, scores, stg_inbound_leads, suppressions
from leadflow.vocab.emails import email_hash_of
from tests.ingest_helpers import HEADER, lead_source, write

D1 = date(2026, 11, 26)
ANNA = "anna.berg@acme.io"


def _config(**extra: Any) -> dict[str, Any]:
    doc = {"sources": [lead_source()], "paths": {"lists_dir": "lists"},
           "routing": {"reps": [{"id": "ann", "name": "Ann", "weight": 1, "email": "ann@sales.test"}]}}
    doc.update(extra)
    return doc


def _day(make_ctx, engine, tmp_path: Path, d: date, lines: list[str], doc: dict[str, Any] | None = None,
         name: str | None = None, header: str = HEADER) -> Any:
    """One day: land the file, check, load, score everyone A/80, queue and deliver."""
    ctx = make_ctx(doc or _config(), engine, run_date=d)
    if lines:
        write(tmp_path / "landing" / (name or f"leads_{d.isoformat()}.csv"), "\n".join([header, *lines]) + "\n")
        land(ctx)
        validate_all(ctx)
        load_leads(ctx)
        load_touches(ctx)
    with engine.begin() as c:
        ids = [int(x) for x, in c.execute(sa.select(people.c.person_id))]
        scored = {int(x) for x, in c.execute(sa.select(scores.c.person_id).where(scores.c.score_date == d))}
        new = [i for i in ids if i not in scored]
        if new:
            syn.add_scores(c, pd.DataFrame({"person_id": new, "score": 80.0, "grade": "A"}), d)
    q = queue(ctx)
    out = deliver(ctx)
    return ctx, q, out


def _listed(tmp_path: Path, d: date) -> str:
    folder = tmp_path / "lists" / d.isoformat()
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.csv"))) if folder.is_dir() else ""


def _rows(engine, table: sa.Table) -> pd.DataFrame:
    return db.read_df(engine, sa.select(table))


def _anna_id(engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(people.c.person_id).where(people.c.email_norm == ANNA)).scalar_one())


def test_opt_out_on_a_row_rejected_at_ingest_withdraws_the_earlier_handoff(engine, make_ctx, tmp_path) -> None:
    _day(make_ctx, engine, tmp_path, D1, [f"1,{ANNA},120,2026-11-25T10:00:00Z,No,google,"])
    assert ANNA in _listed(tmp_path, D1)
    pid = _anna_id(engine)

    # next day: another record of hers, opted out, rejected at ingest for its timestamp
    d2 = D1 + timedelta(days=1)
    _, q, out = _day(make_ctx, engine, tmp_path, d2, ["2, Anna.Berg@ACME.io ,120,not a time,Yes,google,"])
    qr = _rows(engine, quarantine)
    assert len(qr) == 1 and qr["stage"].tolist() == ["ingest"]
    assert q["withdrawn_open"] == 1
    h = _rows(engine, handoffs)
    assert h["status"].tolist() == ["withdrawn"]
    s = _rows(engine, suppressions)
    assert s[["person_id", "reason"]].values.tolist() == [[pid, "opt_out"]]
    assert pd.Timestamp(s["run_date"].iloc[0]).date() == d2
    assert ANNA not in _listed(tmp_path, d2) and out["leads"] == 0

    # every later run (any date, re-runs, an earlier date re-delivered) keeps her out, logs nothing twice
    for d in (d2, D1 + timedelta(days=5), D1):
        _, q, out = _day(make_ctx, engine, tmp_path, d, [])
        assert q["withdrawn_open"] == 0 and out["withdrawn_open"] == 0
        assert ANNA not in _listed(tmp_path, d)
    assert len(_rows(engine, suppressions)) == 1 and len(_rows(engine, handoffs)) == 1
    assert len(_rows(engine, blocks_t)) == 1


@pytest.mark.parametrize("case", ["missing_column", "repeated_column", "repeated_email", "constant_opt_out"])
def test_opt_out_in_a_refused_delivery_is_still_honoured(engine, make_ctx, tmp_path, case) -> None:
    """A delivery refused for its header (a mapped column missing or named twice) still stops
    contact with the people its rows opt out: the refusal must not hide their opt-out (with the
    email column named twice, each column's address: which one the row meant is unknown). A
    suppression-list source that sets ``opt_out`` as a constant opts out every row it refuses."""
    _day(make_ctx, engine, tmp_path, D1, [f"1,{ANNA},120,2026-11-25T10:00:00Z,No,google,"])
    assert ANNA in _listed(tmp_path, D1)
    d2 = D1 + timedelta(days=1)
    header, line = {
        "missing_column": (HEADER.replace("Employees", "Staff"), f"2,{ANNA},120,2026-11-26,Yes,google,"),
        "repeated_column": (HEADER + ",Source", f"2,{ANNA},120,2026-11-26,Yes,google,,web"),
        "repeated_email": (HEADER + ",Email", f"2,{ANNA},120,2026-11-26,Yes,google,,other@elsewhere.test"),
        "constant_opt_out": (HEADER.replace("Do Not Email", "Listed").replace("Employees", "Staff"),
                             f"2,{ANNA},120,2026-11-26,x,google,"),
    }[case]
    doc = _config()
    if case == "constant_opt_out":
        src = doc["sources"][0]
        src["mapping"] = {k: v for k, v in src["mapping"].items() if v != "opt_out"}
        src["constants"] = {"opt_out": True}
    _, q, out = _day(make_ctx, engine, tmp_path, d2, [line], doc=doc, header=header)
    qr = _rows(engine, quarantine)
    assert len(qr) == 1 and qr["stage"].tolist() == ["ingest"]          # the refused row, with its reason
    assert q["withdrawn_open"] == 1
    assert _rows(engine, handoffs)["status"].tolist() == ["withdrawn"]
    assert ANNA not in _listed(tmp_path, d2) and out["leads"] == 0
    blocked = [email_hash_of(ANNA)] + ([email_hash_of("other@elsewhere.test")] if case == "repeated_email" else [])
    assert sorted(_rows(engine, blocks_t)["email_hash"].tolist()) == sorted(blocked)


def test_opt_out_on_a_row_quarantined_by_quality_suppresses_before_any_handoff(engine, make_ctx, tmp_path) -> None:
    lines = [f"1,{ANNA},-5,2026-11-25T10:00:00Z,Yes,google,",      # company size out of range
             f"2,{ANNA},120,2026-11-25T11:00:00Z,No,google,",       # her other record, clean
             "3,tom.lee@globex.com,120,2026-11-25T11:00:00Z,No,google,"]
    _, q, _ = _day(make_ctx, engine, tmp_path, D1, lines)
    st = _rows(engine, stg_inbound_leads).sort_values("row_number")
    assert st["state"].tolist() == ["quarantined", "loaded", "loaded"]
    pid = _anna_id(engine)
    assert q["suppressed_by_reason"] == {"opt_out": 1} and q["handed_off"] == 1
    assert _rows(engine, suppressions)["person_id"].tolist() == [pid]
    listed = _listed(tmp_path, D1)
    assert ANNA not in listed and "tom.lee@globex.com" in listed


def test_late_opt_out_is_withdrawn_by_a_later_dated_run(engine, make_ctx, tmp_path) -> None:
    _day(make_ctx, engine, tmp_path, D1, [f"1,{ANNA},120,2026-11-25T10:00:00Z,No,google,"])
    pid = _anna_id(engine)
    with engine.begin() as c:    # the flag arrives after D1's delivery (e.g. an unsubscribe touch)
        c.execute(sa.update(people).where(people.c.person_id == pid).values(opt_out=True))
    d3 = D1 + timedelta(days=2)
    ctx = make_ctx(_config(), engine, run_date=d3)
    out = deliver(ctx)                              # deliver alone (no queue step that day)
    assert out["withdrawn_open"] == 1
    assert _rows(engine, handoffs)["status"].tolist() == ["withdrawn"]
    assert _rows(engine, suppressions)[["person_id", "reason"]].values.tolist() == [[pid, "opt_out"]]
    assert deliver(ctx)["withdrawn_open"] == 0 and len(_rows(engine, suppressions)) == 1


def test_unreadable_do_not_call_and_unsubscribe_touch_are_kept_as_blocks(engine, make_ctx, tmp_path,
                                                                          capsys) -> None:
    touch_src = {"name": "mail", "owner": "ops", "kind": "touches",
                 "connector": {"type": "file", "path": "touches", "min_age_seconds": 0},
                 "mapping": {"Id": "source_touch_id", "Email": "email", "Type": "touch_type", "At": "occurred_at"}}
    lead = lead_source(mapping={"Id": "source_record_id", "Email": "email", "Employees": "company_size",
                                "Created": "created_at", "Do Not Email": "opt_out", "DNC": "do_not_call",
                                "Source": "lead_source"})
    ctx = make_ctx({"sources": [lead, touch_src]}, engine)
    write(tmp_path / "landing" / "a.csv", "Id,Email,Employees,Created,Do Not Email,DNC,Source\n"
          f"1,{ANNA},10,2026-11-25,No,maybe?,google\n" "2,bad-address,10,2026-11-25,Yes,No,google\n")
    write(tmp_path / "touches" / "t.csv", "Id,Email,Type,At\nt1,tom@globex.com,unsubscribe,yesterday-ish\n")
    land(ctx)
    b = _rows(engine, blocks_t).sort_values("kind")
    assert b[["kind", "signal"]].values.tolist() == [["inbound_leads", "do_not_contact"], ["touches", "unsubscribe"]]
    assert not b["email_hash"].str.contains("@").any()      # only hashes, never the address
    land(ctx)                                                # a re-run adds nothing
    assert len(_rows(engine, blocks_t)) == 2
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": [1, 2], "email_norm": ["tom@globex.com", "x@y.test"]}))
        got = contact_blocks.apply(c, pd.DataFrame({"person_id": [1, 2], "opt_out": [False, False],
                                                    "do_not_contact": [False, False]}))
        assert got["opt_out"].tolist() == [True, False]
    # a person decides otherwise: the block is released (a count printed, no address) and
    # contact is allowed again
    cfg = str(tmp_path / "leadflow.yaml")
    assert main(["people", "release-opt-out", "--email", " TOM@globex.com", "--by", "ops",
                 "--note", "re-subscribed in writing", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "released 1 opt-out signal(s)" in out and "tom@" not in out
    got = contact_blocks.apply(engine, pd.DataFrame({"person_id": [1], "opt_out": [False], "do_not_contact": [False]}))
    assert got["opt_out"].tolist() == [False]
    assert _rows(engine, blocks_t)["released_by"].dropna().tolist() == ["ops"]


def test_signals_of_rows_staged_before_blocks_existed_are_captured_once(engine, make_ctx, tmp_path) -> None:
    ctx = make_ctx(_config(), engine)
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, f"1,{ANNA},-5,2026-11-25T10:00:00Z,Yes,google,",
                                                     "2,tom.lee@globex.com,120,2026-11-25,No,google,",
                                                     "3,eve@initech.com,120,2026-11-25,No,google,"]) + "\n")
    land(ctx)
    validate_all(ctx)
    with engine.begin() as c:                       # a warehouse from before contact_blocks
        c.execute(sa.delete(blocks_t))
    assert load_leads(ctx)["opt_out_signals"] == 1
    assert load_leads(ctx)["opt_out_signals"] == 0
    b = _rows(engine, blocks_t)
    assert b[["row_number", "signal"]].values.tolist() == [[1, "opt_out"]]


def test_a_later_block_on_a_records_other_address_withdraws_only_that_persons_handoff(engine, make_ctx,
                                                                                      tmp_path) -> None:
    """The block matches through the stored address hashes (people and person_records), by an
    indexed join: her record's other address counts, a stranger's block withdraws nothing, and a
    released block stops counting (issue 17: no open handoff's address is hashed in Python)."""
    _day(make_ctx, engine, tmp_path, D1, [f"1,{ANNA},120,2026-11-25T10:00:00Z,No,google,",
                                          "2,tom.lee@globex.com,120,2026-11-25T10:00:00Z,No,google,"])
    pid = _anna_id(engine)
    with engine.begin() as c:        # a record of hers that came with another address
        db.bulk_insert(c, person_records, pd.DataFrame({
            "batch_id": [999], "row_number": [1], "source": ["crm"], "person_id": [pid],
            "match_rule": ["phone"], "created_at": [pd.Timestamp(D1)], "email_norm": ["anna@berg.example"]}))
    stored = _rows(engine, person_records).set_index("email_norm")["email_hash"]
    assert stored["anna@berg.example"] == email_hash_of("anna@berg.example")   # derived by the writer
    d2 = D1 + timedelta(days=1)
    _, q, _ = _day(make_ctx, engine, tmp_path, d2, ["7,someone@else.example,120,not a time,Yes,google,"])
    assert q["withdrawn_open"] == 0                                  # a stranger's block
    _, q, _ = _day(make_ctx, engine, tmp_path, d2, ["8, Anna@Berg.example ,120,not a time,Yes,google,"])
    assert q["withdrawn_open"] == 1
    h = _rows(engine, handoffs).set_index("person_id")["status"]
    assert h[pid] == "withdrawn" and (h.drop(pid) == "queued").all()
    assert contact_blocks.blocked_people(engine, [pid]).loc[pid, "opt_out"]


def test_an_opt_out_listing_several_addresses_blocks_each(engine, make_ctx, tmp_path) -> None:
    """CRM exports put a contact's addresses in one field ('a@x; b@y'). Such a row opting out
    stops contact with every address it lists, and the row itself loads under its first."""
    tom = "tom.lee@globex.com"
    lines = [f'1,"{ANNA}; {tom}",120,2026-11-25T10:00:00Z,Yes,google,',
             f"2,{tom},120,2026-11-25T11:00:00Z,No,google,",
             "3,eva.kim@initech.com,120,2026-11-25T11:00:00Z,No,google,"]
    _, q, _ = _day(make_ctx, engine, tmp_path, D1, lines)
    st = _rows(engine, stg_inbound_leads).sort_values("row_number")
    assert st["state"].tolist() == ["loaded", "loaded", "loaded"]
    blocked = set(_rows(engine, blocks_t)["email_hash"])
    assert {email_hash_of(ANNA), email_hash_of(tom)} <= blocked
    assert q["handed_off"] == 1
    listed = _listed(tmp_path, D1)
    assert ANNA not in listed and tom not in listed and "eva.kim@initech.com" in listed
