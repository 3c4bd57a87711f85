"""File connector: formats, CSV dialects, encodings, partial files, archive/failed, re-delivery."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from leadflow.ingest import formats, land, summarise
from tests.ingest_helpers import HEADER, ROWS, batches, lead_source, quarantined, rows, write


def _ctx(make_ctx, engine, *sources):
    return make_ctx({"sources": list(sources)}, engine)


def _landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def test_csv_lands_typed_rows_with_lineage_and_archives(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    res = land(ctx)
    assert [r["status"] for r in res] == ["landed"]
    assert res[0]["rows_in"] == 3 and res[0]["rows_landed"] == 3 and res[0]["rows_rejected"] == 0
    got = rows(engine)
    assert [r["row_number"] for r in got] == [1, 2, 3]
    assert all(r["source"] == "web" and r["batch_id"] == res[0]["batch_id"] and r["state"] == "landed"
               and r["loaded_at"] is not None for r in got)
    assert [r["lead_source"] for r in got] == ["Google", None, "Webinar"]   # value maps incl. "*"
    assert [r["opt_out"] for r in got] == [False, True, False]
    assert [r["company_size"] for r in got] == [10, 200, None]
    assert got[0]["created_at"].isoformat() == "2026-11-01T10:00:00"
    assert got[0]["attributes"] == {"Notes": "hello"}
    assert not (_landing(tmp_path) / "a.csv").exists()
    assert (_landing(tmp_path) / "archive" / "a.csv").exists()


def test_redelivery_lands_nothing(tmp_path, make_ctx, engine):
    body = "\n".join([HEADER, *ROWS]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    ctx = _ctx(make_ctx, engine, lead_source())
    assert summarise(land(ctx))["rows_landed"] == 3
    write(_landing(tmp_path) / "a_again.csv", body)          # same content, new name
    res = land(ctx)
    assert [r["status"] for r in res] == ["duplicate"]
    assert len(rows(engine)) == 3 and len(batches(engine)) == 1


@pytest.mark.parametrize("dialect", ["semicolon_crlf_trailing", "tab_quoted", "bom", "latin1", "pipe",
                                     "utf16le_excel_unicode_text", "utf16be_bom", "excel_sep_hint",
                                     "report_title_lines"])
def test_csv_dialects_and_encodings(tmp_path, make_ctx, engine, dialect):
    if dialect.startswith("utf16"):
        # Excel's "Unicode Text": UTF-16 with a byte-order mark, tab-separated, CRLF line ends
        text = "\ufeff" + "\r\n".join(line.replace(",", "\t") for line in [HEADER, *ROWS]) + "\r\n"
        data = text.replace("hello", "café ✓").encode("utf-16-le" if "le" in dialect else "utf-16-be")
    elif dialect == "report_title_lines":
        # a report export: its title and run date above the header, then a blank line
        data = ("Leads report\nGenerated: 2026-11-26 08:00\n\n" + "\n".join([HEADER, *ROWS]) + "\n").encode()
    elif dialect == "excel_sep_hint":
        # Excel (and exports meant for it) may start with a 'sep=;' line naming the delimiter
        data = ("\ufeffsep=;\r\n" + "\r\n".join(line.replace(",", ";") for line in [HEADER, *ROWS]) + "\r\n").encode()
    elif dialect == "semicolon_crlf_trailing":
        text = "\r\n".join(line.replace(",", ";") + ";" for line in [HEADER, *ROWS]) + "\r\n"
        data = text.encode()
    elif dialect == "tab_quoted":
        lines = [HEADER.replace(",", "\t")] + [
            "\t".join(f'"{v}"' for v in r.split(",")) for r in ROWS]
        lines[1] = lines[1].replace('"hello"', '"hello, ""world""\nsecond line"')
        data = ("\n".join(lines) + "\n").encode()
    elif dialect == "bom":
        data = ("\ufeff" + "\n".join([HEADER, *ROWS]) + "\n").encode("utf-8")
    elif dialect == "latin1":
        data = ("\n".join([HEADER, *ROWS]).replace("hello", "café crème") + "\n").encode("latin-1")
    else:
        data = ("\n".join(line.replace(",", "|") for line in [HEADER, *ROWS]) + "\n").encode()
    write(_landing(tmp_path) / "a.csv", data)
    ctx = _ctx(make_ctx, engine, lead_source())
    res = land(ctx)
    assert res[0]["status"] == "landed", res
    got = rows(engine)
    assert [r["source_record_id"] for r in got] == ["1", "2", "3"]
    assert [r["email"] for r in got] == ["a@x.com", "b@x.com", "c@x.com"]
    assert "Unnamed: 7" not in (got[0]["attributes"] or {})      # trailing delimiter dropped
    if dialect == "latin1":
        assert got[0]["attributes"]["Notes"] == "café crème"
    if dialect == "report_title_lines":
        assert "3 line(s) above the header skipped" in res[0]["note"], res
        assert [r["row_number"] for r in got] == [1, 2, 3]
    if dialect.startswith("utf16"):
        assert got[0]["attributes"]["Notes"] == "café ✓"
        assert res[0]["note"] is None and res[0]["rows_landed"] == 3, res      # the last line ends: not cut
    if dialect == "tab_quoted":
        assert got[0]["attributes"]["Notes"] == 'hello, "world"\nsecond line'


def _frame() -> pd.DataFrame:
    lines = [r.split(",") for r in ROWS]
    return pd.DataFrame(lines, columns=HEADER.split(",")).replace({"": None})


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "xlsx"])
def test_other_formats(tmp_path, make_ctx, engine, fmt):
    df = _frame()
    p = _landing(tmp_path) / f"a.{fmt}"
    p.parent.mkdir(parents=True)
    if fmt == "jsonl":
        df["Employees"] = pd.array([10, 200, None], dtype="Int64")
        p.write_text("\n".join(json.dumps({k: (None if pd.isna(v) else (int(v) if k == "Employees" else v))
                                           for k, v in r.items()}) for r in df.to_dict("records")) + "\n")
    elif fmt == "parquet":
        df.to_parquet(p)
    else:
        df["Employees"] = pd.array([10, 200, None], dtype="Int64")
        df.to_excel(p, index=False)
    write(p, p.read_bytes())
    ctx = _ctx(make_ctx, engine, lead_source())
    res = land(ctx)
    assert res[0]["status"] == "landed" and res[0]["rows_landed"] == 3, res
    got = rows(engine)
    assert [r["company_size"] for r in got] == [10, 200, None]
    assert [r["opt_out"] for r in got] == [False, True, False]


def test_file_still_being_written_is_left_alone(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "new.csv", "\n".join([HEADER, *ROWS[:1]]), age=0)
    ctx = _ctx(make_ctx, engine, lead_source(connector={"min_age_seconds": 30}))
    res = land(ctx)
    assert [r["status"] for r in res] == ["waiting"]
    assert rows(engine) == [] and batches(engine) == []
    assert (_landing(tmp_path) / "new.csv").exists()
    for ignored in ("upload.csv.part", ".hidden.csv"):      # temp names are never picked up
        write(_landing(tmp_path) / ignored, HEADER + "\n")
    assert [r["uri"] for r in land(ctx)] == ["new.csv"]


def test_bad_values_go_to_quarantine_with_field_and_reason(tmp_path, make_ctx, engine):
    body = "\n".join([HEADER, ROWS[0], "2,b@x.com,lots,not-a-date,Maybe,Web,", ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    ctx = _ctx(make_ctx, engine, lead_source())
    r = land(ctx)[0]
    assert (r["rows_in"], r["rows_landed"], r["rows_rejected"]) == (3, 2, 1)
    assert r["rows_in"] == r["rows_landed"] + r["rows_rejected"]
    q = quarantined(engine)
    assert len(q) == 1 and q[0]["stage"] == "ingest" and q[0]["row_number"] == 2
    reasons = " | ".join(q[0]["reasons"])
    for part in ("company_size", "'Employees'", "not a whole number", "created_at", "opt_out"):
        assert part in reasons
    assert q[0]["record"]["Employees"] == "lots"
    assert "row 2" in r["note"] and "company_size" in r["note"]
    assert [x["row_number"] for x in rows(engine)] == [1, 3]


def test_missing_mapped_column_rejects_file_with_named_field(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER.replace("Do Not Email", "DNE"), *ROWS]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    r = land(ctx)[0]
    assert r["status"] == "failed"
    for part in ("source web", "file a.csv", "row 1", "field opt_out", "'Do Not Email'"):
        assert part in r["error"]
    assert r["rows_in"] == 3 and r["rows_rejected"] == 3 and r["rows_landed"] == 0
    assert len(quarantined(engine)) == 3
    failed = _landing(tmp_path) / "failed" / "a.csv"
    assert failed.exists() and "Do Not Email" in failed.with_name("a.csv.why.txt").read_text()


def test_mapped_column_named_twice_rejects_file_naming_both(tmp_path, make_ctx, engine):
    """A header naming a mapped column twice (an export that appended a second "Email") is
    ambiguous: leadflow cannot tell which column holds the email, so it refuses the delivery with
    a clear reason instead of quietly using the first and keeping the second as an attribute."""
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER + ",Email", *[r + ",other@y.com" for r in ROWS]]) + "\n")
    write(_landing(tmp_path) / "b.csv", "\n".join([HEADER + ",Notes", *[r + ",more" for r in ROWS]]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    by_file = {Path(r["uri"]).name: r for r in land(ctx)}
    a = by_file["a.csv"]
    assert a["status"] == "failed" and a["rows_in"] == 3 and a["rows_rejected"] == 3 and a["rows_landed"] == 0
    for part in ("source web", "file a.csv", "row 1", "field email", "'Email'", "2 columns", "'Email.1'"):
        assert part in a["error"], a["error"]
    assert "other@y.com" not in a["error"]
    # an unmapped column named twice is no ambiguity: both kept as attributes, the file lands
    b = by_file["b.csv"]
    assert b["status"] == "landed" and b["rows_landed"] == 3
    landed = rows(engine)
    assert len(landed) == 3 and {r["email"] for r in landed} == {"a@x.com", "b@x.com", "c@x.com"}
    assert landed[0]["attributes"] == {"Notes": "hello", "Notes.1": "more"}
    q = quarantined(engine)          # a.csv's rows, each with the reason
    assert len(q) == 3 and {x["batch_id"] for x in q} == {a["batch_id"]}
    assert all("named more than once" in " ".join(x["reasons"]) for x in q)


def _xlsx(path: Path, header: list, *rows_: list) -> None:
    import openpyxl
    wb = openpyxl.Workbook()
    for r in (header, *rows_):
        wb.active.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    write(path, path.read_bytes())


def test_xlsx_header_is_named_as_csv_names_it(tmp_path, make_ctx, engine):
    """A workbook's header gets the CSV reader's names: a repeated mapped column refuses the
    delivery with the clear reason (it was an 'unexpected AttributeError' counting no rows), and a
    blank header cell over values is kept as 'Unnamed: i'."""
    base = ["Id", "Email", "Employees", "Created", "Do Not Email", "Source", "Notes"]
    row = ["1", "a@x.com", "10", "2026-11-01", "No", "google", "hello"]
    _xlsx(_landing(tmp_path) / "a.xlsx", [*base, "Email"], [*row, "z@y.com"],
          [row[0], "b@x.com", *row[2:], "z@y.com"])
    _xlsx(_landing(tmp_path) / "b.xlsx", [*base, None], [*row, "kept"])
    by_file = {Path(r["uri"]).name: r for r in land(_ctx(make_ctx, engine, lead_source()))}
    a, b = by_file["a.xlsx"], by_file["b.xlsx"]
    assert (a["status"], a["rows_in"], a["rows_rejected"]) == ("failed", 2, 2), a
    assert "field email" in a["error"] and "named more than once" in a["error"]
    assert len(quarantined(engine)) == 2
    assert (b["status"], b["rows_landed"]) == ("landed", 1), b
    assert rows(engine)[0]["attributes"] == {"Notes": "hello", "Unnamed: 7": "kept"}


def _parquet(path: Path, extra: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    base = {"Id": ["1", "2"], "Email": ["a@x.com", "b@x.com"], "Employees": [10, None],
            "Created": ["2026-11-01", None], "Do Not Email": ["No", "Yes"], "Source": ["google", None]}
    cols = {**base, **extra}
    names = [*base, *[k.split("#")[0] for k in extra]]   # "Email#2": a second column named Email
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays([pa.array(v) for v in cols.values()], names=names), path)
    write(path, path.read_bytes())


def test_xlsx_report_title_rows_above_the_header_are_skipped(tmp_path, make_ctx, engine):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["Leads report"])
    ws.append([None])
    ws.append(HEADER.split(","))
    for r in ROWS:
        ws.append([v or None for v in r.split(",")])
    p = _landing(tmp_path) / "report.xlsx"
    p.parent.mkdir(parents=True)
    wb.save(p)
    write(p, p.read_bytes())
    res = land(_ctx(make_ctx, engine, lead_source()))
    assert res[0]["status"] == "landed" and res[0]["rows_landed"] == 3, res
    assert [r["row_number"] for r in rows(engine)] == [1, 2, 3]


def test_parquet_columns_are_named_as_csv_names_them(tmp_path, make_ctx, engine):
    """Parquet (and JSON, SQL, API) frames go through the same naming: a mapped column named twice
    is refused with the reason (it was an 'unexpected AttributeError'); an unmapped one named
    twice lands as two attributes; a list value is kept as JSON text."""
    _parquet(_landing(tmp_path) / "a.parquet", {"Email#2": ["z@y.com", None]})
    _parquet(_landing(tmp_path) / "b.parquet", {"Notes": ["n", None], "Notes#2": ["m", "o"],
                                                "Tags": [[1, 2], None]})
    src = lead_source(connector={"pattern": "*.parquet", "format": "parquet"})
    by_file = {Path(r["uri"]).name: r for r in land(_ctx(make_ctx, engine, src))}
    a, b = by_file["a.parquet"], by_file["b.parquet"]
    assert (a["status"], a["rows_in"], a["rows_rejected"]) == ("failed", 2, 2), a
    assert "field email" in a["error"] and "named more than once" in a["error"]
    assert (b["status"], b["rows_landed"]) == ("landed", 2), b
    assert [r["attributes"] for r in rows(engine)] == [{"Notes": "n", "Notes.1": "m", "Tags": "[1, 2]"},
                                                       {"Notes": None, "Notes.1": "o", "Tags": None}]


def test_a_repeat_never_takes_a_name_the_header_already_holds():
    from leadflow.ingest.formats import _dedupe
    assert _dedupe(["Email", "Email.1", "Email", " ", " a ", "a", "Email"]) == [
        "Email", "Email.1", "Email.2", "Unnamed: 3", "a", "a.1", "Email.3"]


def test_a_mapping_that_names_the_repeat_has_chosen(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER + ",Email", *[r + ",Buyer" for r in ROWS]]) + "\n")
    src = lead_source()
    src["mapping"] = {**src["mapping"], "Email.1": "job_title"}
    r = land(_ctx(make_ctx, engine, src))[0]
    assert r["status"] == "landed" and r["rows_landed"] == 3, r.get("error")
    assert [(x["email"], x["job_title"]) for x in rows(engine)] == [
        ("a@x.com", "Buyer"), ("b@x.com", "Buyer"), ("c@x.com", "Buyer")]


@pytest.mark.parametrize("case", ["empty", "header_only", "utf16_without_bom", "declared_utf8_but_latin1"])
def test_bad_files(tmp_path, make_ctx, engine, case):
    data = {
        "empty": b"",
        "header_only": (HEADER + "\n").encode(),
        # with a byte-order mark UTF-16 is read (test_csv_dialects_and_encodings); without one
        # nothing tells it from binary data
        "utf16_without_bom": "\n".join([HEADER, *ROWS]).encode("utf-16-le"),
        "declared_utf8_but_latin1": "\n".join([HEADER, ROWS[0], ROWS[1].replace("b@x", "bé@x")]).encode("latin-1"),
    }[case]
    write(_landing(tmp_path) / "bad.csv", data)
    enc = {"encoding": "utf-8"} if case == "declared_utf8_but_latin1" else {}
    ctx = _ctx(make_ctx, engine, lead_source(connector=enc))
    r = land(ctx)[0]
    if case == "header_only":
        assert r["status"] == "landed" and r["rows_in"] == 0
        return
    assert r["status"] == "failed" and r["rows_landed"] == 0
    assert r["error"].startswith("source web, file bad.csv")
    # (a row with too many fields quarantines only that row: tests/test_ingest_rows.py)
    expect = {"empty": "empty file", "utf16_without_bom": "NUL bytes", "declared_utf8_but_latin1": "row 2"}[case]
    assert expect in r["error"], r["error"]
    assert "\n" not in r["error"]
    assert (_landing(tmp_path) / "failed" / "bad.csv.why.txt").exists()
    assert rows(engine) == []
    # a corrected re-delivery of the same name is not blocked by the failed one
    write(_landing(tmp_path) / "bad.csv", "\n".join([HEADER, *ROWS]) + "\n")
    assert land(ctx)[0]["status"] == "landed"


def test_malformed_json_line_is_quarantined_and_others_land(tmp_path, make_ctx, engine):
    good = {"Id": "1", "Email": "a@x.com", "Employees": 5, "Created": "2026-11-01", "Do Not Email": "No",
            "Source": "Web"}
    text = json.dumps(good) + "\n{\"Id\": \"2\", \"Email\": oops}\n\n" + json.dumps({**good, "Id": "3"}) + "\n"
    write(_landing(tmp_path) / "a.jsonl", text)
    ctx = _ctx(make_ctx, engine, lead_source())
    r = land(ctx)[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 3, 2, 1)
    q = quarantined(engine)
    assert q[0]["row_number"] == 2 and "malformed JSON" in q[0]["reasons"][0]
    assert "file a.jsonl, row 2" in r["note"]


@pytest.mark.parametrize("shape", ["compact", "pretty", "wrapped"])
def test_a_json_array_export_lands_one_row_per_element(tmp_path, make_ctx, engine, shape):
    """CRM and marketing APIs export a JSON array (or an object wrapping one, {"results": [...]}),
    not JSON Lines: each element is a row, numbered by its place in the array; an element that
    is not an object is quarantined alone; every element is accounted for."""
    good = {"Id": "1", "Email": "a@x.com", "Employees": 5, "Created": "2026-11-01", "Do Not Email": "No",
            "Source": "Web"}
    elems = [good, "not an object", {**good, "Id": "3", "Email": "c@x.com", "Notes": "x, [y] {z}"}]
    doc = {"results": elems, "paging": None} if shape == "wrapped" else elems
    text = json.dumps(doc, indent=2 if shape != "compact" else None)
    write(_landing(tmp_path) / "export.json", text)
    ctx = _ctx(make_ctx, engine, lead_source())
    r = land(ctx)[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 3, 2, 1), r
    assert [g["source_record_id"] for g in rows(engine)] == ["1", "3"]
    q = quarantined(engine)
    assert q[0]["row_number"] == 2 and "not an object" in q[0]["reasons"][0]


def test_a_json_array_on_one_line_longer_than_a_row_is_read_by_element(tmp_path, make_ctx, engine):
    """The line cap protects the JSON Lines parser; an array on one line is capped per element."""
    elems = [{"Id": str(i), "Email": f"p{i}@x.com", "Employees": 5, "Created": "2026-11-01",
              "Do Not Email": "No", "Source": "Web", "Notes": "n" * 200} for i in range(20)]
    write(_landing(tmp_path) / "export.json", json.dumps(elems))                # ~5 KB on one line
    r = land(_ctx(make_ctx, engine, lead_source(limits={"max_row_bytes": 1024})))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"]) == ("landed", 20, 20), (r["error"], r["note"])
    big = [{**elems[0], "Notes": "n" * 3000}]
    write(_landing(tmp_path) / "big.json", json.dumps(big))
    r = land(_ctx(make_ctx, engine, lead_source(limits={"max_row_bytes": 1024})))[0]
    assert r["status"] == "failed" and "longer than max_row_bytes" in r["error"], r


def test_a_truncated_json_array_keeps_its_whole_elements_and_says_so(tmp_path, make_ctx, engine):
    good = {"Id": "1", "Email": "a@x.com", "Employees": 5, "Created": "2026-11-01", "Do Not Email": "No",
            "Source": "Web"}
    text = json.dumps([good, {**good, "Id": "2", "Email": "b@x.com"}], indent=2)
    write(_landing(tmp_path) / "export.json", text[: text.rindex('"Source"')])      # cut mid-element
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["status"], r["rows_in"], r["rows_landed"], r["rows_rejected"]) == ("landed", 2, 1, 1), r
    q = quarantined(engine)
    assert q[0]["row_number"] == 2 and "cut" in q[0]["reasons"][0]


def test_single_file_path_without_archive(tmp_path, make_ctx, engine):
    f = write(tmp_path / "data" / "export.csv", "\n".join([HEADER, *ROWS]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source(path="data/export.csv", connector={"archive": False}))
    assert land(ctx)[0]["rows_landed"] == 3
    assert f.exists() and not (tmp_path / "data" / "archive").exists()
    assert land(ctx)[0]["status"] == "duplicate"


@pytest.mark.parametrize("mode", ["row_number", "hash"])
def test_record_id_derived_when_source_has_no_id(tmp_path, make_ctx, engine, mode):
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    src = lead_source(record_id=mode)
    del src["mapping"]["Id"]
    ctx = _ctx(make_ctx, engine, src)
    land(ctx)
    ids = [r["source_record_id"] for r in rows(engine)]
    assert len(set(ids)) == 3 and all(ids)
    if mode == "row_number":
        assert ids == ["a.csv:1", "a.csv:2", "a.csv:3"]


def test_one_failing_source_does_not_stop_the_others(tmp_path, make_ctx, engine):
    write(_landing(tmp_path) / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    write(tmp_path / "other" / "x.csv", b"")
    broken = lead_source(path="other", name="broken")
    ctx = _ctx(make_ctx, engine, broken, lead_source(), lead_source(path="gone/export.csv", name="absent"),
               lead_source(path="not_yet", name="new_folder"))
    res = land(ctx)
    by = {r["source"]: r for r in res}
    assert by["broken"]["status"] == "failed" and "source broken, file x.csv" in by["broken"]["error"]
    assert by["absent"]["status"] == "failed" and "source absent, file export.csv: not found" in by["absent"]["error"]
    assert "new_folder" not in by and (tmp_path / "not_yet").is_dir()   # empty landing folder: nothing to do
    assert by["web"]["status"] == "landed" and by["web"]["rows_landed"] == 3
    s = summarise(res)
    assert s["failed"] == 2 and s["rows_landed"] == 3 and len(s["errors"]) == 2


def test_concurrent_runs_land_a_file_once(tmp_path, make_ctx, engine):
    """Two runs at once over the same landing folder: the unique key lets exactly one batch in."""
    import threading

    for i in range(3):
        write(_landing(tmp_path) / f"f{i}.csv", "\n".join([HEADER, *[r.replace(",", f"{i},", 1) for r in ROWS]]) + "\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    out: list = []
    errors: list = []

    def run() -> None:
        try:
            out.extend(land(ctx))
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not [r for r in out if r["status"] == "failed"], out
    assert len(rows(engine)) == 9
    assert len([b for b in batches(engine) if b["status"] == "landed"]) == 3
    assert sum(r["rows_landed"] for r in out) == 9


def test_file_dated_after_the_run_date_waits_for_its_day(tmp_path, engine, make_ctx) -> None:
    """A backfill of an earlier day must not land a later day's delivery."""
    from datetime import date

    from leadflow.ingest import land

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "leads_2026-11-25.csv").write_text("id,email\n1,a@x.test\n")
    (landing / "leads_2026-11-27.csv").write_text("id,email\n2,b@x.test\n")
    doc = {"sources": [{"name": "web", "owner": "ops", "kind": "inbound_leads",
                        "connector": {"type": "file", "path": str(landing), "pattern": "leads_*.csv",
                                      "min_age_seconds": 0},
                        "mapping": {"id": "source_record_id", "email": "email"}}]}
    ctx = make_ctx(doc, engine, run_date=date(2026, 11, 26))
    res = {r["uri"]: r["status"] for r in land(ctx)}
    assert res == {"leads_2026-11-25.csv": "landed", "leads_2026-11-27.csv": "waiting"}
    assert (landing / "leads_2026-11-27.csv").exists()
    later = make_ctx(doc, engine, run_date=date(2026, 11, 27))
    assert {r["uri"]: r["status"] for r in land(later)} == {"leads_2026-11-27.csv": "landed"}


def test_a_header_spelled_in_another_case_or_spacing_is_mapped(tmp_path, make_ctx, engine):
    """An export that writes 'EMAIL' or 'do not  email' for the mapped 'Email' / 'Do Not Email'
    (another tool, another version) lands instead of being refused for a missing column. Where
    two header columns read alike, neither is guessed: the delivery is refused as before."""
    header = HEADER.replace("Email,", "EMAIL,").replace("Do Not Email", "do not  email")
    write(_landing(tmp_path) / "a.csv", "\n".join([header, *ROWS]) + "\n")
    write(_landing(tmp_path) / "b.csv", "Id,EMAIL,email,Employees,Created,Do Not Email,Source,Notes\n"
                                        "9,z@x.com,y@x.com,10,2026-11-01,No,google,\n")
    ctx = _ctx(make_ctx, engine, lead_source())
    by_file = {Path(r["uri"]).name: r for r in land(ctx)}
    assert by_file["a.csv"]["status"] == "landed" and by_file["a.csv"]["rows_landed"] == 3
    landed = rows(engine)
    assert [r["email"] for r in landed] == ["a@x.com", "b@x.com", "c@x.com"]
    assert [r["opt_out"] for r in landed] == [False, True, False]
    assert by_file["b.csv"]["status"] == "failed" and "'Email'" in by_file["b.csv"]["error"]


def test_excel_text_wrapped_values_are_read_as_the_text(tmp_path, make_ctx, engine):
    """Exports meant for Excel write ="0123" so the spreadsheet keeps leading zeros: the value is
    the text inside. The count was unreadable (the lead was quarantined) and the notes kept ="..."."""
    body = "\n".join([HEADER, '1,a@x.com,"=""0010""",2026-11-01,"=""No""",google,"=""0301234567"""',
                      '2,b@x.com,"=""""",2026-11-02,No,Web,"=cmd|\' /C calc\'!A0"']) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["rows_landed"], r["rows_rejected"]) == (2, 0), quarantined(engine)
    got = rows(engine)
    assert [g["company_size"] for g in got] == [10, None]
    assert got[0]["opt_out"] is False and got[0]["attributes"] == {"Notes": "0301234567"}
    assert got[1]["attributes"] == {"Notes": "=cmd|' /C calc'!A0"}        # a formula stays as delivered


def test_the_header_line_again_mid_file_is_named_as_such(tmp_path, make_ctx, engine):
    """Two exports joined into one file (cat a.csv b.csv): the second header, with or without its
    byte-order mark, is one quarantined line whose reason says what it is, not a row of type errors."""
    body = "\n".join([HEADER, ROWS[0], "\ufeff" + HEADER, ROWS[1], HEADER, ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    r = land(_ctx(make_ctx, engine, lead_source()))[0]
    assert (r["rows_in"], r["rows_landed"], r["rows_rejected"]) == (5, 3, 2), r
    q = quarantined(engine)
    assert [x["row_number"] for x in q] == [2, 4]
    assert all(x["reasons"] == ["the header line again (files joined into one?)"] for x in q)
    assert [x["status"] for x in q] == ["discarded"] * 2      # no lead: nothing to work, one entry per line
    assert [g["row_number"] for g in rows(engine)] == [1, 3, 5]


def test_a_header_line_again_beside_an_overlong_value_sets_each_aside_for_its_own_reason(tmp_path, make_ctx, engine):
    body = "\n".join([HEADER, ROWS[0], HEADER, ROWS[1].replace("Select", "y" * 5000), ROWS[2]]) + "\n"
    write(_landing(tmp_path) / "a.csv", body)
    r = land(_ctx(make_ctx, engine, lead_source(limits={"max_cell_bytes": 1000})))[0]
    assert (r["rows_landed"], r["rows_rejected"]) == (2, 2), r
    q = quarantined(engine)
    assert [x["row_number"] for x in q] == [2, 3] and q[0]["reasons"] == [formats.HEADER_AGAIN]
    assert "max_cell_bytes" in q[1]["reasons"][0]
