"""Rows and batches: short, long and cut rows, poison values, failed-delivery counts,
re-delivery keys, XLSX blank rows, and an adversarial generator that checks its own truth."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.ingest import land, summarise
from leadflow.store.schema import ingest_batches, quarantine, stg_inbound_leads
from tests.ingest_helpers import (
    HEADER,
    ROWS,
    batches,
    lead_source,
    quarantined,
    rows,
    write,
)

GOOD = {"Id": "1", "Email": "a@x.com", "Employees": 5, "Created": "2026-11-01", "Do Not Email": "No",
        "Source": "Web", "Notes": "n"}


def _ctx(make_ctx, engine, *sources):
    return make_ctx({"sources": list(sources)}, engine)


def _landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def _check_accounting(engine) -> None:
    """For every batch: rows_in = landed + rejected, and no row is both landed and quarantined."""
    with engine.connect() as c:
        for b in c.execute(sa.select(ingest_batches)).mappings():
            assert b["rows_in"] == b["rows_landed"] + b["rows_rejected"], dict(b)
            stg = {r for (r,) in c.execute(sa.select(stg_inbound_leads.c.row_number)
                                           .where(stg_inbound_leads.c.batch_id == b["batch_id"]))}
            q = [r for (r,) in c.execute(sa.select(quarantine.c.row_number)
                                         .where(quarantine.c.batch_id == b["batch_id"]))]
            assert len(stg) == b["rows_landed"], dict(b)
            assert not stg & set(q), dict(b)
            if b["status"] != "failed":
                assert len(q) == b["rows_rejected"], dict(b)


# --------------------------------------------------------------------------- short / long / cut rows
def test_short_row_is_quarantined_with_field_count(tmp_path, make_ctx, engine):
    # row 2 lost its last two fields (Source and Notes): the opt-out value must not be guessed
    body = "\n".join([HEADER, ROWS[0], "2,b@x.com,200,2026-11-02,Yes", ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 3, 2, 1), r
    q = quarantined(engine)
    assert [x["row_number"] for x in q] == [2]
    assert "row has 5 of 7 fields" in q[0]["reasons"][0]
    assert [x["row_number"] for x in rows(engine)] == [1, 3]
    _check_accounting(engine)


def test_too_many_fields_quarantines_that_row_not_the_delivery(tmp_path, make_ctx, engine):
    body = "\n".join([HEADER, ROWS[0], ROWS[1] + ",x,y", ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 3, 2, 1), r
    q = quarantined(engine)
    assert q[0]["row_number"] == 2 and "row has 9 of 7 fields" in q[0]["reasons"][0]
    assert "b@x.com" in json.dumps(q[0]["record"])       # the delivered text is kept in quarantine
    assert "b@x.com" not in r["note"]                    # but never in notes
    assert [x["row_number"] for x in rows(engine)] == [1, 3]


@pytest.mark.parametrize("cut", ["mid_row", "mid_quote", "complete"])
def test_unterminated_last_line_is_flagged(tmp_path, make_ctx, engine, cut):
    last = {"mid_row": "3,c@x.com,,2026-11", "mid_quote": '3,c@x.com,,2026-11-03,No,Web,"half a no',
            "complete": ROWS[2]}[cut]
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, ROWS[0], ROWS[1], last]))
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert r["status"] == "landed" and r["rows_in"] == 3, r
    if cut == "complete":
        assert r["rows_landed"] == 3 and "no line end" in r["note"]
        return
    assert (r["rows_landed"], r["rows_rejected"]) == (2, 1)
    q = quarantined(engine)
    assert q[0]["row_number"] == 3
    assert any("no line end" in why for why in q[0]["reasons"]), q[0]["reasons"]
    _check_accounting(engine)


# --------------------------------------------------------------------------- poison values
def test_twenty_digit_number_quarantines_the_row_and_later_files_land(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "a_1.csv",
          "\n".join([HEADER, ROWS[0], "2,b@x.com,12345678901234567890,2026-11-02,Yes,Web,", ROWS[2]]) + "\n")
    write(_landing(tmp_path) / "a_2.csv", "\n".join([HEADER, ROWS[0].replace("1,a@", "9,z@")]) + "\n")
    res = land(_ctx(make_ctx, engine, lead_source()))
    assert [(r["status"], r["rows_landed"], r["rows_rejected"]) for r in res] == [("landed", 2, 1), ("landed", 1, 0)]
    q = quarantined(engine)
    assert "company_size (column 'Employees')" in q[0]["reasons"][0] and "range" in q[0]["reasons"][0]
    assert not list(_landing(tmp_path).glob("*.csv"))


def test_nul_and_lone_surrogate_in_json_quarantine_the_row(tmp_path, make_ctx, engine):
    lines = [json.dumps(GOOD), json.dumps({**GOOD, "Id": "2", "Notes": "bad\u0000nul"}),
             json.dumps({**GOOD, "Id": "3", "Email": "x\ud800@y.com"}), json.dumps({**GOOD, "Id": "4"})]
    write(_landing(tmp_path) / "a.jsonl", "\n".join(lines) + "\n")
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 4, 2, 2), r
    q = sorted(quarantined(engine), key=lambda x: x["row_number"])
    assert [x["row_number"] for x in q] == [2, 3]
    assert "Notes" in q[0]["reasons"][0] and "NUL" in q[0]["reasons"][0]
    assert [x["source_record_id"] for x in rows(engine)] == ["1", "4"]


def test_unexpected_error_on_a_file_fails_it_and_later_files_land(tmp_path, make_ctx, engine, monkeypatch):
    from leadflow.ingest import formats
    real = formats.read_xlsx
    calls = []

    def broken(path, conn, *a, **kw):   # the first file (a_1, files land in name order) is corrupt
        calls.append(path)
        if len(calls) == 1:
            raise KeyError("corrupt shared strings")
        return real(path, conn, *a, **kw)

    monkeypatch.setattr(formats, "read_xlsx", broken)
    df = pd.DataFrame([GOOD])
    p1, p2 = _landing(tmp_path) / "a_1.xlsx", _landing(tmp_path) / "a_2.xlsx"
    p1.parent.mkdir(parents=True)
    df.to_excel(p1, index=False)
    df.assign(Id="2").to_excel(p2, index=False)
    write(p1, p1.read_bytes())
    write(p2, p2.read_bytes())
    res = land(_ctx(make_ctx, engine, lead_source()))
    assert [r["status"] for r in res] == ["failed", "landed"], res
    assert "file a_1.xlsx" in res[0]["error"] and "KeyError" in res[0]["error"]
    assert "\n" not in res[0]["error"]
    assert (_landing(tmp_path) / "failed" / "a_1.xlsx").exists()
    assert summarise(res)["failed"] == 1
    assert [x["source_record_id"] for x in rows(engine)] == ["2"]


# --------------------------------------------------------------------------- failed deliveries count rows
def test_failed_delivery_counts_the_rows_it_held(tmp_path, make_ctx, engine):
    body = "\n".join([HEADER, ROWS[0], ROWS[1].replace("b@x", "bé@x"), ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body.encode("latin-1"))
    r = land(_ctx(make_ctx, engine, lead_source(connector={"encoding": "utf-8"})))[0]
    assert r["status"] == "failed"
    assert (r["rows_in"], r["rows_landed"], r["rows_rejected"]) == (3, 0, 3), r
    b = batches(engine)[0]
    assert (b["rows_in"], b["rows_rejected"]) == (3, 3)


# --------------------------------------------------------------------------- re-delivery keys
def test_near_identical_redelivery_does_not_reopen_quarantine(tmp_path, make_ctx, engine):
    bad = "2,b@x.com,lots,2026-11-02,Yes,Web,"
    write(_landing(tmp_path) / "a_1.csv", "\n".join([HEADER, ROWS[0], bad]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    land(ctx)
    with engine.begin() as c:   # an analyst discards the entry
        c.execute(quarantine.update().values(status="discarded"))
    # the next export: one more row on top, the same bad record further down
    write(_landing(tmp_path) / "a_2.csv", "\n".join([HEADER, ROWS[2], ROWS[0], bad]) + "\n")
    r = land(ctx)[0]
    assert (r["rows_in"], r["rows_rejected"]) == (3, 1)
    q = quarantined(engine)
    assert len(q) == 1 and q[0]["status"] == "discarded", q
    assert "already in quarantine" in r["note"]


# --------------------------------------------------------------------------- XLSX blank rows
def test_xlsx_formatted_blank_rows_are_skipped(tmp_path, make_ctx, engine):
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    wb = Workbook()
    ws = wb.active
    ws.append(list(GOOD))
    for i in (1, 2):
        ws.append([str(i), *list(GOOD.values())[1:]])
    fill = PatternFill("solid", fgColor="FFFF00")
    for r in range(4, 2004):                       # formatted but empty rows below the data
        for c in range(1, 8):
            ws.cell(r, c).fill = fill
    ws.cell(5, 7).value = "   "                    # whitespace only is blank too
    p = _landing(tmp_path) / "a.xlsx"
    p.parent.mkdir(parents=True)
    wb.save(p)
    write(p, p.read_bytes())
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 2, 2, 0), r


# --------------------------------------------------------------------------- adversarial generator
JUNK = ["=HYPERLINK(\"http://x\")", "'; DROP TABLE people; --", "😀🔥", "+1-555", "@SUM(A1)", "NULL",
        "12345678901234567890", "-1e400", "   ", "café", "\t", "a\"b", "ｆｕｌｌ"]


def _record(rng: random.Random, i: int) -> dict[str, str]:
    rec = {"Id": str(i), "Email": f"p{i}@x.com", "Employees": str(rng.randint(1, 500)),
           "Created": "2026-11-01", "Do Not Email": rng.choice(["Yes", "No"]), "Source": "Web",
           "Notes": "ok"}
    if rng.random() < 0.3:
        rec[rng.choice(list(rec)[1:])] = rng.choice(JUNK)
    if rng.random() < 0.1:                      # Excel's keep-as-text form: ="0042"
        rec["Employees"] = f'="{rec["Employees"]}"'
    return rec


def _csv_line(rec: dict[str, str], rng: random.Random) -> str:
    vals = ['"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n') else v for v in rec.values()]
    roll = rng.random()
    if roll < 0.1:
        vals = vals[:rng.randint(1, len(vals) - 1)]       # too few fields
    elif roll < 0.2:
        vals = vals + ["extra"] * rng.randint(1, 3)        # too many
    return ",".join(vals)


def _generate(folder: Path, rng: random.Random, n_files: int) -> dict[str, int]:
    """Write adversarial deliveries; returns the data rows each really holds (the truth)."""
    truth: dict[str, int] = {}
    next_id = 1
    for f in range(n_files):
        n = rng.randint(5, 40)
        recs = [_record(rng, next_id + i) for i in range(n)]
        next_id += n
        fmt = rng.choice(["csv", "csv", "csv", "jsonl", "xlsx"])
        name = f"d{f:02d}_{fmt}.{fmt}"
        if fmt == "csv":
            lines = [HEADER] + [_csv_line(r, rng) for r in recs]
            for _ in range(rng.choice([0, 0, 0, 1, 2])):    # exports joined: the header again, a row of its own
                lines.insert(rng.randint(2, len(lines)), rng.choice([HEADER, "\ufeff" + HEADER]))
            n = len(lines) - 1
            if rng.random() < 0.15:                     # a NUL byte: refused whole, its rows counted
                lines[1] += "\x00"
            text = "\n".join(lines) + "\n"
            enc = rng.choice(["utf-8", "utf-8", "latin-1"])
            data = text.encode(enc, errors="replace")
            header_end = len((HEADER + "\n").encode())
            if rng.random() < 0.4:                      # cut at a random byte after the header
                cut = rng.randint(header_end + 1, len(data) - 1)
                data = data[:cut]
                # rows whose first byte is before the cut (a line end right at the cut ends the row)
                starts = [0]
                for ln in lines[:-1]:
                    starts.append(starts[-1] + len((ln + "\n").encode(enc, errors="replace")))
                n = sum(1 for s in starts[1:] if s < cut)
            (folder / name).write_bytes(data)
        elif fmt == "jsonl":
            out = []
            for r in recs:
                obj: dict = dict(r)
                roll = rng.random()
                if roll < 0.1:
                    obj["Notes"] = "nul\u0000here"
                elif roll < 0.2:
                    obj["Employees"] = 12345678901234567890
                out.append(json.dumps(obj) if rng.random() > 0.05 else json.dumps(obj)[:-3])
            (folder / name).write_text("\n".join(out) + "\n", encoding="utf-8")
        else:
            from openpyxl import Workbook
            from openpyxl.styles import Font
            wb = Workbook()
            ws = wb.active
            ws.append(list(recs[0]))
            for r in recs:
                ws.append(list(r.values()))
            for row in range(n + 2, n + 2 + rng.randint(0, 300)):
                ws.cell(row, 1).font = Font(bold=True)          # formatted blank rows
            wb.save(folder / name)
        truth[name] = n
    return truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adversarial_deliveries_account_for_every_row(tmp_path, make_ctx, engine, seed):
    folder = _landing(tmp_path)
    folder.mkdir(parents=True)
    truth = _generate(folder, random.Random(seed), 8)
    for p in folder.iterdir():
        write(p, p.read_bytes())
    res = land(_ctx(make_ctx, engine, lead_source()))
    by_name = {r["uri"]: r for r in res}
    assert set(by_name) == set(truth)
    for name, n in truth.items():
        r = by_name[name]
        assert r["rows_in"] == n, (name, r)
        assert r["rows_in"] == r["rows_landed"] + r["rows_rejected"], (name, r)
        assert r["error"] is None or "\n" not in r["error"]
    assert not [p for p in folder.iterdir() if p.is_file()], "every file archived or failed"
    _check_accounting(engine)


def test_row_numbers_stay_exact_across_parser_blocks_and_chunks(tmp_path, make_ctx, engine):
    """Rows set aside in one parser block must not shift the numbers of rows in later blocks."""
    rng = random.Random(7)
    lines, bad = [HEADER], set()
    for i in range(1, 3001):
        rec = {**{k: str(v) for k, v in GOOD.items()}, "Id": str(i), "Notes": "x" * rng.randint(10, 90)}
        line = ",".join(rec.values())
        if rng.random() < 0.05:
            line = ",".join(list(rec.values())[:rng.randint(1, 6)]) if rng.random() < 0.5 else line + ",extra"
            bad.add(i)
        lines.append(line)
    lines.insert(1500, "")                              # a blank line is not a row
    write(_landing(tmp_path) / "a.csv", "\n".join(lines) + "\n")
    src = lead_source(connector={"chunk_rows": 700}, limits={"max_row_bytes": 1024})
    r = land(_ctx(make_ctx, engine, src))[0]
    assert (r["rows_in"], r["rows_rejected"]) == (3000, len(bad)), r
    got = rows(engine)
    assert all(int(x["source_record_id"]) == x["row_number"] for x in got)
    assert {x["row_number"] for x in quarantined(engine)} == bad
    _check_accounting(engine)


def test_huge_field_in_a_short_row_and_header_fail_safely(tmp_path, make_ctx, engine):
    big = "y" * 200_000                                 # beyond the csv module's field limit
    write(_landing(tmp_path) / "a_1.csv", "\n".join([HEADER, ROWS[0], f"2,{big}", ROWS[2]]) + "\n")
    write(_landing(tmp_path) / "a_2.csv", "\n".join([HEADER + ',"' + big + '"', ROWS[0]]) + "\n")
    write(_landing(tmp_path) / "a_3.csv", "\n".join([HEADER, ROWS[2]]) + "\n")
    res = land(_ctx(make_ctx, engine, lead_source()))
    assert [(r["status"], r["rows_landed"], r["rows_rejected"]) for r in res] == [
        ("landed", 2, 1), ("failed", 0, 1), ("landed", 1, 0)], res
    assert "row has 2 of 7 fields" in quarantined(engine)[0]["reasons"][0]
    assert res[1]["error"].startswith("source web, file a_2.csv, row 1:") and "\n" not in res[1]["error"]


def test_a_row_the_warehouse_refuses_is_quarantined_alone(tmp_path, make_ctx, engine, monkeypatch):
    """Unforeseen per-row write errors: the refused row is found and quarantined, the rest land."""
    from leadflow.ingest import landing
    real = landing._write_rows

    def picky(conn, table, df):
        if (df["email"] == "b@x.com").any():      # stands in for a value the database refuses
            conn.exec_driver_sql("INSERT INTO ingest_batches (batch_id) VALUES (NULL)")   # NOT NULL
        return real(conn, table, df)

    monkeypatch.setattr(landing, "_write_rows", picky)
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 3, 2, 1), r
    q = quarantined(engine)
    assert q[0]["row_number"] == 2 and "the warehouse refused this row" in q[0]["reasons"][0]
    assert q[0]["record"]["email"] == "b@x.com"
    assert [x["row_number"] for x in rows(engine)] == [1, 3]
    _check_accounting(engine)


def test_a_warehouse_refusing_every_row_fails_the_delivery(tmp_path, make_ctx, engine, monkeypatch):
    """Not a bad row but a systematic fault: the halving gives up and the file is set aside."""
    from leadflow.ingest import landing

    def broken(conn, table, df):
        conn.exec_driver_sql("INSERT INTO ingest_batches (batch_id) VALUES (NULL)")

    monkeypatch.setattr(landing, "_write_rows", broken)
    monkeypatch.setattr(landing, "_MAX_REFUSED", 3)
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, *ROWS, *ROWS, *ROWS]) + "\n")
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("failed", 9, 0, 9), r
    assert "refused its rows (IntegrityError)" in r["error"] and quarantined(engine) == []
    assert (_landing(tmp_path) / "failed" / "a.csv").exists()
