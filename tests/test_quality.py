"""The quality step on the warehouse (SQLite and PostgreSQL) and the quarantine CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.cli import main
from leadflow.quality import validate_all
from leadflow.quality.testing import crafted, good_row, stage, states
from leadflow.store import db, rowstate
from leadflow.store.schema import ingest_batches, quarantine, stg_inbound_leads, stg_touches


def _config(fail_share: float = 0.9, warn_share: float = 0.05) -> dict:
    src = lambda name, kind: {"name": name, "owner": "ops", "kind": kind,  # noqa: E731
                              "connector": {"type": "file", "path": f"landing/{name}"},
                              "quality": {"warn_share": warn_share, "fail_share": fail_share}}
    web = src("web", "inbound_leads")
    web["mapping"] = {"Email": "email", "Id": "source_record_id", "Company": "company"}
    return {"paths": {"data_dir": "data", "reports_dir": "reports"},
            "sources": [web, src("clicks", "touches"), src("ads", "campaign_spend")]}


def _quarantine(engine) -> pd.DataFrame:
    df = db.read_df(engine, sa.select(quarantine).order_by(quarantine.c.batch_id, quarantine.c.row_number))
    df["reasons"] = df["reasons"].map(lambda v: v if isinstance(v, list) else __import__("json").loads(v))
    return df


@pytest.mark.parametrize("chunk_rows", [200_000, 5])
def test_validate_all_quarantines_exactly_the_broken_rows(engine, make_ctx, chunk_rows: int) -> None:
    """Same result whether a source is read in one chunk or in many (duplicate keys across
    chunks, reasons in suite order, records read back whole)."""
    ctx = make_ctx(_config(), engine)
    leads, expected = crafted("inbound_leads")
    # typed staging columns cannot hold wrong types (ingest rejects those); keep the rest
    keep = [i for i, e in enumerate(expected) if not any(r.endswith("_type") for r in e)]
    leads = leads.iloc[keep].reset_index(drop=True).drop(columns=["source"])
    expected = [expected[i] for i in keep]
    bid = stage(engine, "inbound_leads", "web", leads)
    # spend landed in the same run makes campaign "c1" known to the touches
    stage(engine, "campaign_spend", "ads", pd.DataFrame([good_row("campaign_spend", 1) | {"campaign_id": "c1"}]))
    touches = pd.DataFrame([good_row("touches", i) for i in range(3)]
                           + [good_row("touches", 9) | {"campaign_id": "nowhere"}]).drop(columns=["source"])
    tbid = stage(engine, "touches", "clicks", touches)
    res = validate_all(ctx, docs=False, chunk_rows=chunk_rows)

    n_leads = len(leads)
    assert res["rows"] == n_leads + 1 + 4
    assert res["rows"] == res["passed"] + res["quarantined"]          # nothing lost
    q = _quarantine(engine)
    got = {(int(r.batch_id), int(r.row_number)): set(r.reasons) for r in q.itertuples()}
    want = {(bid, i + 1): e for i, e in enumerate(expected) if e}
    want[(tbid, 4)] = {"campaign_known"}
    assert got == want
    assert set(q["stage"]) == {"quality"} and set(q["status"]) == {"open"}
    st = states(engine, "inbound_leads")
    assert st.get("quarantined", 0) == sum(1 for e in expected if e)
    assert st.get("passed", 0) == sum(1 for e in expected if not e)
    rec = q[q.row_number == 4].iloc[0]["record"]
    rec = rec if isinstance(rec, dict) else __import__("json").loads(rec)
    assert rec["batch_id"] == bid and rec["row_number"] == 4 and "email" in rec

    # a second run finds nothing landed and changes nothing
    again = validate_all(ctx, docs=False)
    assert again["rows"] == 0 and len(_quarantine(engine)) == len(q)


def test_duplicate_keys_across_chunks_and_batches(engine, make_ctx) -> None:
    """Unique-key checks see the whole source, not one chunk: a record id delivered in rows 1
    and 12 of one batch and again in a second batch fails in all three places."""
    ctx = make_ctx(_config(), engine)
    rows = [good_row("inbound_leads", i) for i in range(14)]
    rows[11]["source_record_id"] = rows[0]["source_record_id"]
    rows[11]["email"] = "not-an-email"                      # fails two checks, reasons in suite order
    b1 = stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    again = [good_row("inbound_leads", 100) | {"source_record_id": rows[0]["source_record_id"]},
             good_row("inbound_leads", 101)]
    b2 = stage(engine, "inbound_leads", "web", pd.DataFrame(again).drop(columns=["source"]))
    res = validate_all(ctx, docs=False, chunk_rows=5)
    assert (res["rows"], res["quarantined"], res["passed"]) == (16, 3, 13)
    assert res["by_source"]["web"]["expectations"] == {"source_record_id_unique": 3, "email_syntax": 1}
    got = {(int(r.batch_id), int(r.row_number)): r.reasons for r in _quarantine(engine).itertuples()}
    assert got == {(b1, 1): ["source_record_id_unique"], (b1, 12): ["email_syntax", "source_record_id_unique"],
                   (b2, 1): ["source_record_id_unique"]}
    rec = _entry(engine, 12)["record"]
    rec = rec if isinstance(rec, dict) else __import__("json").loads(rec)
    assert rec["landing_url"] == rows[11]["landing_url"]      # whole record, not only checked columns
    st = states(engine, "inbound_leads")
    assert (st.get("quarantined"), st.get("passed"), st.get("landed", 0)) == (3, 13, 0)


def test_a_lead_line_written_twice_loads_once(engine, make_ctx) -> None:
    """A form tool that exports a submission twice: the unchanged repeat is suppressed
    ('redelivered') before the checks, the first copy passes; a repeat of a record id with
    other values is still quarantined, both copies (which one is true is a person's call)."""
    ctx = make_ctx(_config(), engine)
    rows = [good_row("inbound_leads", i) for i in range(4)]
    rows += [dict(rows[1]), rows[2] | {"job_title": "CFO"}]
    b = stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    res = validate_all(ctx, docs=False)
    assert (res["redelivered"], res["rows"], res["quarantined"], res["passed"]) == (1, 5, 2, 3)
    got = {r: v for (bb, r), v in _staged_states(engine, stg_inbound_leads).items() if bb == b}
    assert got[5] == ("suppressed", "redelivered") and got[2][0] == "passed"
    assert got[3][0] == got[6][0] == "quarantined"


def test_touch_already_loaded_with_other_content_is_quarantined(engine, make_ctx) -> None:
    ctx = make_ctx(_config(), engine)
    stage(engine, "campaign_spend", "ads", pd.DataFrame([good_row("campaign_spend", 1) | {"campaign_id": "c1"}]))
    first = pd.DataFrame([good_row("touches", i) for i in range(3)]).drop(columns=["source"])
    stage(engine, "touches", "clicks", first)
    assert validate_all(ctx, docs=False)["quarantined"] == 0
    second = pd.concat([first.iloc[[0]].assign(touch_type="demo_request"),
                        pd.DataFrame([good_row("touches", i) for i in (7, 8)]).drop(columns=["source"])],
                       ignore_index=True)
    b2 = stage(engine, "touches", "clicks", second)                   # t0 again, another type
    res = validate_all(ctx, docs=False)
    assert res["quarantined"] == 1
    q = _quarantine(engine)
    assert q[["batch_id", "row_number"]].values.tolist() == [[b2, 1]]
    assert q["reasons"].iloc[0] == ["source_touch_id_not_loaded"]


def _staged_states(engine, table) -> dict[tuple[int, int], tuple[str, str | None]]:
    df = db.read_df(engine, sa.select(table.c.batch_id, table.c.row_number, rowstate.state_of(table).label("s"),
                                      table.c.state_reason))
    return {(int(b), int(r)): (s, w) for b, r, s, w in df.itertuples(index=False)}


def test_an_overlapping_event_feed_is_not_an_error(engine, make_ctx) -> None:
    """Event exports overlap (today's file repeats yesterday's last hour) and at-least-once
    trackers write a line twice: a row repeating, unchanged, a touch already accepted or an
    earlier row of the run is suppressed ('redelivered'), not quarantined; it does not count
    against the gate, and a changed repeat is still quarantined."""
    ctx = make_ctx(_config(fail_share=0.7), engine)        # 2 of 3 checked rows fail; 7 of 8 landed
    stage(engine, "campaign_spend", "ads", pd.DataFrame([good_row("campaign_spend", 1) | {"campaign_id": "c1"}]))
    day1 = pd.DataFrame([good_row("touches", i) for i in range(6)]).drop(columns=["source"])
    stage(engine, "touches", "clicks", day1)
    assert validate_all(ctx, docs=False)["quarantined"] == 0
    again = day1.iloc[2:6]                                             # yesterday's last four
    new = pd.DataFrame([good_row("touches", i) for i in (7, 8)]).drop(columns=["source"])
    day2 = pd.concat([again, new, new.iloc[[0]], new.iloc[[1]].assign(touch_type="webinar")],
                     ignore_index=True)
    b2 = stage(engine, "touches", "clicks", day2)
    res = validate_all(ctx, docs=False)
    assert res["held"] == [] and res["redelivered"] == 5
    assert (res["rows"], res["passed"], res["quarantined"]) == (3, 1, 2)
    got = {r: v for (b, r), v in _staged_states(engine, stg_touches).items() if b == b2}
    assert [got[r] for r in (1, 2, 3, 4, 7)] == [("suppressed", "redelivered")] * 5
    assert got[5][0] == "passed"                                       # t7: its first row
    assert got[6][0] == got[8][0] == "quarantined"                     # t8 twice, different types
    assert len(got) == 8                                               # every row in one place
    again = validate_all(ctx, docs=False)                              # re-running changes nothing
    assert (again["rows"], again.get("redelivered", 0)) == (0, 0)
    assert {r: v for (b, r), v in _staged_states(engine, stg_touches).items() if b == b2} == got


def test_source_over_fail_share_is_held_the_others_pass(engine, make_ctx) -> None:
    """The gate does not fail the step. The bad source's failing rows are
    quarantined and its passing rows stay landed (held); the other source's rows pass."""
    cfg = _config(fail_share=0.5)
    cfg["sources"].append({**cfg["sources"][0], "name": "fair"})
    ctx = make_ctx(cfg, engine)
    rows = [good_row("inbound_leads", i) for i in range(10)]
    for r in rows[:6]:
        r["email"] = "not-an-email"
    stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    stage(engine, "inbound_leads", "fair", pd.DataFrame([good_row("inbound_leads", i) for i in range(20, 24)])
          .drop(columns=["source"]))
    res = validate_all(ctx, docs=False)
    assert res["held"] == ["web"] and res["held_rows"] == 4
    assert res["rows"] == res["passed"] + res["quarantined"] + res["held_rows"] == 14
    gate = [w for w in res["warnings"] if w.startswith("quality gate")]
    assert len(gate) == 1 and "\n" not in gate[0]
    assert "'web'" in gate[0] and "email_syntax" in gate[0] and "6 of 10 rows" in gate[0]
    assert "leadflow quarantine list --source web" in gate[0]           # the next command
    assert "not-an-email" not in " ".join(res["warnings"])             # no record values
    assert res["by_source"]["web"]["held"] and not res["by_source"]["fair"]["held"]
    t = stg_inbound_leads
    st = rowstate.state_of(t).label("state")              # landed in a validated batch = passed
    got = db.read_df(engine, sa.select(t.c.source, st, sa.func.count().label("n"))
                     .group_by(t.c.source, st))
    assert {(r.source, r.state): int(r.n) for r in got.itertuples()} == {
        ("web", "quarantined"): 6, ("web", "landed"): 4, ("fair", "passed"): 4}   # nothing lost


def test_warn_share_and_row_count_history_warn(engine, make_ctx) -> None:
    ctx = make_ctx(_config(warn_share=0.1), engine)
    for _ in range(3):                                                # history: 100-row batches
        with engine.begin() as c:
            c.execute(sa.insert(ingest_batches).values(
                source="web", kind="inbound_leads", uri="old", content_hash=str(_) + "h", rows_in=100,
                rows_landed=100, rows_rejected=0, status="processed", loaded_at=ctx.as_of))
    rows = [good_row("inbound_leads", i) for i in range(5)]
    rows[0]["channel"] = "fax"
    stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    res = validate_all(ctx, docs=False)
    text = " | ".join(res["warnings"])
    assert "20.0% > warn_share 10%" in text and "channel_allowed" in text
    assert "row_count_vs_history failed (observed 5" in text


def test_data_docs_are_built_into_reports(engine, make_ctx, tmp_path: Path, capsys) -> None:
    """GX's real results (every row, no sample) are kept by the step and rendered by their own
    command/task; ``leadflow quality report`` prints the link."""
    ctx = make_ctx(_config(), engine)
    cfg = str(ctx.settings.config_path)
    assert main(["quality", "report", "--config", cfg]) != 0          # no docs yet: says how to build
    rows = [good_row("inbound_leads", i) for i in range(4)]
    rows[1]["email"] = "broken"
    stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    stage(engine, "touches", "clicks", pd.DataFrame([good_row("touches", 1) | {"campaign_id": None}])
          .drop(columns=["source"]))
    res = validate_all(ctx)
    kept = __import__("json").loads(Path(res["gx_results"]).read_text())
    labels = [r["label"] for r in kept["results"]]
    assert "inbound_leads.web.rows.1" in labels and "touches.clicks.rows.1" in labels
    email = next(x for r in kept["results"] if r["label"] == "inbound_leads.web.rows.1"
                 for x in r["result"]["results"] if x["expectation_config"]["meta"]["name"] == "email_syntax")
    assert email["result"]["unexpected_count"] == 1 and email["result"]["element_count"] == 4  # all rows
    capsys.readouterr()
    assert main(["quality", "docs", "--config", cfg]) == 0
    index = Path(capsys.readouterr().out.strip())
    assert index == ctx.settings.reports_dir / "data_docs" / "index.html" and index.is_file()
    html = "".join(p.read_text(errors="ignore") for p in index.parent.rglob("*.html"))
    assert "inbound_leads.web" in html and "touches.clicks" in html   # one run, every source
    assert "broken" not in html                                        # counts, never values
    assert main(["quality", "report", "--config", cfg]) == 0
    assert capsys.readouterr().out.strip().endswith("data_docs/index.html")


def test_unknown_gx_types_over_chunks(engine, make_ctx, tmp_path, monkeypatch) -> None:
    """On the warehouse: three types leadflow never heard of, a source
    read in chunks of 7 (the z-scores still see every row), GX's names as reasons, the
    dataset-level one as a warning."""
    from tests.test_quality_engine import NEW_EXPECTATIONS, outlier_frame, suite_copy
    suite_copy(tmp_path, monkeypatch, NEW_EXPECTATIONS)
    cfg = _config()
    cfg["sources"][0]["mapping"]["Size"] = "company_size"   # dataset checks: mapped fields only
    ctx = make_ctx(cfg, engine)
    bid = stage(engine, "inbound_leads", "web", outlier_frame().drop(columns=["source"]))
    res = validate_all(ctx, docs=False, chunk_rows=7)
    got = {(int(r.batch_id), int(r.row_number)): r.reasons for r in _quarantine(engine).itertuples()}
    assert got == {(bid, 4): ["expect_column_value_z_scores_to_be_less_than"],
                   (bid, 6): ["expect_column_value_lengths_to_equal"]}
    assert any("expect_column_max_to_be_between failed (observed 9000000" in w for w in res["warnings"])
    st = states(engine, "inbound_leads")
    assert (st.get("quarantined"), st.get("passed"), st.get("landed", 0)) == (2, 28, 0)


# ----------------------------------------------------------------------------- the CLI
def _cli(ctx, *args: str) -> int:
    return main([*args[:2], "--config", str(ctx.settings.config_path), *args[2:]])


def _entry(engine, row_number: int) -> dict:
    q = _quarantine(engine)
    return q[q.row_number == row_number].iloc[0].to_dict()


def test_cli_release_edit_discard_end_to_end(engine, make_ctx, capsys) -> None:
    ctx = make_ctx(_config(), engine)
    rows = [good_row("inbound_leads", i) for i in range(4)]
    rows[0]["email"] = "ann(at)example.com"          # fixable
    rows[1]["channel"] = "fax"                       # released unfixed: still fails
    rows[2]["created_at"] = pd.Timestamp("2999-01-01")   # discarded
    bid = stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    validate_all(ctx, docs=False)
    e1, e2, e3 = (_entry(engine, n)["quarantine_id"] for n in (1, 2, 3))

    assert _cli(ctx, "quarantine", "list", "--source", "web") == 0
    out = capsys.readouterr().out
    assert "email_syntax" in out and "ann(at)example.com" not in out
    assert _cli(ctx, "quarantine", "show", str(e1)) == 0
    assert "ann(at)example.com" in capsys.readouterr().out

    # release with a fix: passes, stg row -> passed with the fixed value
    assert _cli(ctx, "quarantine", "release", str(e1), "--by", "maria", "--set", "email=ann@example.com") == 0
    row = db.read_df(engine, sa.select(stg_inbound_leads).where(stg_inbound_leads.c.batch_id == bid,
                                                                stg_inbound_leads.c.row_number == 1)).iloc[0]
    assert row["state"] == "passed" and row["email"] == "ann@example.com"
    assert _entry(engine, 1)["status"] == "released" and _entry(engine, 1)["resolved_by"] == "maria"
    # released once: a second release is refused, the next quality run does not see it again
    assert _cli(ctx, "quarantine", "release", str(e1)) != 0
    assert validate_all(ctx, docs=False)["rows"] == 0

    # release without a fix: still failing, stays open with its (new) reasons
    assert _cli(ctx, "quarantine", "release", str(e2), "--by", "maria") != 0
    assert _entry(engine, 2)["status"] == "open" and _entry(engine, 2)["reasons"] == ["channel_allowed"]
    # fixing one problem but adding another: new reasons recorded
    assert _cli(ctx, "quarantine", "edit", str(e2), "channel=email", "company_size=0") == 0
    assert _cli(ctx, "quarantine", "release", str(e2), "--by", "maria") != 0
    assert _entry(engine, 2)["reasons"] == ["company_size_range"]
    assert _cli(ctx, "quarantine", "release", str(e2), "--by", "maria", "--set", "company_size=") == 0
    assert _entry(engine, 2)["status"] == "released"

    # discard keeps who and why
    assert _cli(ctx, "quarantine", "discard", str(e3), "--by", "maria", "--why", "test lead") == 0
    e = _entry(engine, 3)
    assert (e["status"], e["resolved_by"], e["resolution_note"]) == ("discarded", "maria", "test lead")
    st = states(engine, "inbound_leads")
    assert st.get("discarded") == 1 and st.get("passed") == 3 and st.get("quarantined", 0) == 0
    assert sum(st) == len(rows)                                        # every row in one place


def test_release_of_ingest_reject_lands_it(engine, make_ctx) -> None:
    """An ingest reject (no stg row) is mapped again with the source's config and validated."""
    import leadflow.ingest.mapping  # noqa: F401 - the release path re-maps through it
    ctx = make_ctx(_config(), engine)
    with engine.begin() as c:
        bid = c.execute(sa.insert(ingest_batches).values(
            source="web", kind="inbound_leads", uri="landing/web/leads.csv", content_hash="h1", rows_in=1,
            rows_landed=0, rows_rejected=1, status="landed", loaded_at=ctx.as_of)
            .returning(ingest_batches.c.batch_id)).scalar_one()
        c.execute(sa.insert(quarantine).values(
            source="web", kind="inbound_leads", batch_id=bid, row_number=7, stage="ingest",
            record={"Email": "bob@example.com", "Id": "X7", "Company": "Bob Ltd"},
            reasons=["company_size: not a whole number"], status="open", created_at=ctx.as_of))
        qid = c.execute(sa.select(quarantine.c.quarantine_id)).scalar_one()
    assert _cli(ctx, "quarantine", "release", str(qid), "--by", "ops") == 0
    row = db.read_df(engine, sa.select(stg_inbound_leads)).iloc[0]
    assert (row["batch_id"], row["row_number"], row["state"], row["email"]) == (bid, 7, "passed", "bob@example.com")
    b = db.read_df(engine, sa.select(ingest_batches)).iloc[0]
    assert (b["rows_landed"], b["rows_rejected"]) == (1, 0)


def test_discard_ingest_reject(engine, make_ctx) -> None:
    ctx = make_ctx(_config(), engine)
    with engine.begin() as c:
        c.execute(sa.insert(quarantine).values(
            source="web", kind="inbound_leads", batch_id=1, row_number=3, stage="ingest",
            record={"_line": "garbage"}, reasons=["unparseable"], status="open", created_at=ctx.as_of))
    assert _cli(ctx, "quarantine", "discard", "1", "--by", "ops", "--why", "junk line") == 0
    assert _entry(engine, 3)["status"] == "discarded"


def test_rows_in_equal_passed_plus_quarantined_per_kind(engine, make_ctx) -> None:
    ctx = make_ctx(_config(), engine)
    stage(engine, "campaign_spend", "ads", pd.DataFrame(
        [good_row("campaign_spend", i) for i in range(5)] + [good_row("campaign_spend", 9) | {"amount": -3.0}]))
    stage(engine, "touches", "clicks", pd.DataFrame([good_row("touches", i) | {"campaign_id": "c0"}
                                                      for i in range(4)]))
    res = validate_all(ctx, docs=False)
    assert res["rows"] == 10 and res["rows"] == res["passed"] + res["quarantined"] and res["quarantined"] == 1
    for kind, n in (("campaign_spend", 6), ("touches", 4)):
        st = states(engine, kind)
        assert sum(st) == n and st.get("landed", 0) == 0
    _ = (stg_touches, date)


def _plan(conn: sa.Connection, sql: str) -> str:
    """The query plan as text; on PostgreSQL with sequential scans priced out, so a plan
    without an index means no index can serve the predicate (tiny test tables would scan)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_quality_reads_only_rows_landed_since_the_last_validation(engine, make_ctx, monkeypatch) -> None:
    """Issue 17: a day's quality step costs what the day landed. Yesterday's validated (and
    loaded) rows are neither read nor given to GX again, and the queries that find and read
    the landed rows go through an index (state; the primary key), not a scan of all history."""
    from leadflow.quality import engine as qengine
    from leadflow.quality import run as qrun
    from leadflow.store import frames

    ctx = make_ctx(_config(), engine)
    day1 = pd.DataFrame([good_row("inbound_leads", i) for i in range(40)]).drop(columns=["source"])
    b1 = stage(engine, "inbound_leads", "web", day1)
    assert validate_all(ctx, docs=False)["rows"] == 40
    with engine.begin() as c:                                # the load step took them
        c.execute(sa.update(stg_inbound_leads).where(rowstate.passed(stg_inbound_leads))
                  .values(state="loaded"))
    day2 = pd.DataFrame([good_row("inbound_leads", i) for i in range(100, 103)]).drop(columns=["source"])
    b2 = stage(engine, "inbound_leads", "web", day2)

    read: list[pd.DataFrame] = []
    seen: list[pd.Index] = []
    real_read, real_run = frames.read_columns, qengine.run
    monkeypatch.setattr(qrun, "read_columns", lambda *a, **k: read.append(real_read(*a, **k)) or read[-1])
    monkeypatch.setattr(qengine, "run", lambda label, exps, frame, p: seen.append(frame.index)
                        or real_run(label, exps, frame, p))
    res = validate_all(ctx, docs=False)

    assert res["rows"] == 3 and res["passed"] == 3
    assert sum(len(f) for f in read) == 3 and {int(b) for f in read for b in f["batch_id"]} == {b2}
    keyed = [ix for ix in seen if ix.name == "row_key"]
    assert keyed and all(len(ix) == 3 for ix in keyed)        # chunk and whole-source checks
    assert {int(k) >> 32 for ix in keyed for k in ix} == {b2} and b1 != b2
    assert states(engine, "inbound_leads").to_dict() == {"loaded": 40, "passed": 3}

    with engine.begin() as c:
        landed = str(qrun.landed_query("inbound_leads").compile(c, compile_kwargs={"literal_binds": True}))
        chunk = frames.select_sql(stg_inbound_leads, ["email"], qrun.CHUNK_WHERE, {"b": b2, "r": 0},
                                  ["row_number"], 100)
        for sql, index in ((landed, "ix_stg_inbound_leads_state"), (chunk, "")):
            plan = _plan(c, sql)
            if c.dialect.name == "postgresql":
                # (ingest_batches, one row per delivery, may be scanned for the validated marks)
                assert "Seq Scan on stg_" not in plan and "Index" in plan and index in plan, plan
            else:
                assert "SCAN stg_inbound_leads" not in plan and "USING" in plan and index in plan, plan


def test_passing_rows_are_not_rewritten_their_batch_is_marked(engine, make_ctx) -> None:
    """The write follows the failures: passing rows keep their stored state (``landed``) and
    their batch is marked validated, which makes them passed for every reader (the load's
    ``read_passed``), exactly once; a held source's batch stays unmarked, its rows unread by
    the load; a re-run reads nothing; a later batch is validated on its own."""
    from leadflow.identity.store import read_passed

    cfg = _config()
    cfg["sources"].append({**cfg["sources"][0], "name": "bad", "quality": {"warn_share": 0.05, "fail_share": 0.5}})
    ctx = make_ctx(cfg, engine)
    rows = [good_row("inbound_leads", i) for i in range(6)]
    rows[2]["email"] = "not-an-email"
    b1 = stage(engine, "inbound_leads", "web", pd.DataFrame(rows).drop(columns=["source"]))
    worse = [good_row("inbound_leads", i) | {"email": "nope"} for i in range(50, 53)] + [good_row("inbound_leads", 60)]
    b2 = stage(engine, "inbound_leads", "bad", pd.DataFrame(worse).drop(columns=["source"]))
    res = validate_all(ctx, docs=False)
    assert (res["rows"], res["passed"], res["quarantined"], res["held"]) == (10, 5, 4, ["bad"])
    t = stg_inbound_leads
    raw = db.read_df(engine, sa.select(t.c.batch_id, t.c.state, sa.func.count().label("n"))
                     .group_by(t.c.batch_id, t.c.state))
    assert {(int(r.batch_id), r.state): int(r.n) for r in raw.itertuples()} == {
        (b1, "landed"): 5, (b1, "quarantined"): 1, (b2, "landed"): 1, (b2, "quarantined"): 3}
    marks = dict(db.read_df(engine, sa.select(ingest_batches.c.batch_id, ingest_batches.c.validated_at))
                 .itertuples(index=False))
    assert marks[b1] is not None and pd.isna(marks[b2])
    with engine.begin() as c:
        passed = read_passed(c, t)
    assert sorted(passed["row_number"].tolist()) == [1, 2, 4, 5, 6] and set(passed["batch_id"]) == {b1}
    assert states(engine, "inbound_leads").to_dict() == {"passed": 5, "quarantined": 4, "landed": 1}

    again = validate_all(ctx, docs=False)       # only the held source's landed row is read again
    assert (again["rows"], again["passed"], again["held"]) == (1, 1, []) and len(_quarantine(engine)) == 4
    assert validate_all(ctx, docs=False)["rows"] == 0
    b3 = stage(engine, "inbound_leads", "web", pd.DataFrame([good_row("inbound_leads", 70)]).drop(columns=["source"]))
    later = validate_all(ctx, docs=False, sources=["web"])
    assert (later["rows"], later["passed"]) == (1, 1)
    with engine.begin() as c:
        got = read_passed(c, t)
    assert len(got) == 7 and set(got["batch_id"]) == {b1, b2, b3}
