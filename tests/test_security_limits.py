"""Caps on a delivered file (issue 13): oversized declarations and headers are refused in one
line, with memory measured in a subprocess, and the other sources still load."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from leadflow.ingest import land
from tests.conftest import ROOT, write_config
from tests.ingest_helpers import HEADER, ROWS, lead_source, quarantined, rows, write

# What the reader may use for one refused file on top of the interpreter and its imports.
MAX_RSS_MB = 400

_RUNNER = textwrap.dedent("""
    import json, resource, sys
    from datetime import date
    # a runaway allocation fails fast instead of swapping the shared machine
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from leadflow import config as cfg
    from leadflow.context import RunContext, make_run_id
    from leadflow.ingest import land
    from leadflow.store import db
    settings = cfg.load(sys.argv[1])
    ctx = RunContext(settings, db.engine(sys.argv[2]), date(2026, 11, 26), make_run_id("t", date(2026, 11, 26)), "t")
    res = land(ctx)
    print(json.dumps({"results": res, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
                     default=str))
""")


def _run_in_subprocess(tmp_path: Path, db_url: str, sources: list[dict]) -> dict:
    cfg_path = write_config(tmp_path / "leadflow.yaml", {"sources": sources})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADFLOW_DATABASE_URL": db_url}
    p = subprocess.run([sys.executable, "-c", _RUNNER, str(cfg_path), db_url], capture_output=True, text=True,
                       env=env, timeout=240, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _good_source(tmp_path: Path) -> dict:
    write(tmp_path / "good" / "ok.csv", "\n".join([HEADER, *ROWS]) + "\n")
    return lead_source("good", name="good")


def _xlsx_with_dimension(path: Path, ref: str) -> Path:
    """A tiny workbook whose sheet declares the given dimension (as hostile exports do)."""
    pd.DataFrame([dict(zip(HEADER.split(","), ROWS[0].split(",")))]).to_excel(path, index=False)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), data)
                assert ref.encode() in data
            zout.writestr(item, data)
    tmp.replace(path)
    return path


def _one_line_refusal(res: dict, source: str, file: str, words: str) -> None:
    assert res["status"] == "failed", res
    err = res["error"]
    assert err.startswith(f"source {source}, file {file}") and "\n" not in err, err
    assert words in err, err


def test_oversized_xlsx_dimension_is_refused_with_bounded_memory(tmp_path, db_url):
    (tmp_path / "landing").mkdir()
    p = _xlsx_with_dimension(tmp_path / "landing" / "huge.xlsx", "A1:XFD1048576")
    write(p, p.read_bytes())
    assert p.stat().st_size < 20_000
    out = _run_in_subprocess(tmp_path, db_url, [lead_source(), _good_source(tmp_path)])
    by_src = {r["source"]: r for r in out["results"]}
    _one_line_refusal(by_src["web"], "web", "huge.xlsx", "declares")
    assert "max_columns" in by_src["web"]["error"]
    assert by_src["good"]["status"] == "landed" and by_src["good"]["rows_landed"] == 3
    assert out["maxrss_mb"] < MAX_RSS_MB, out["maxrss_mb"]
    assert (tmp_path / "landing" / "failed" / "huge.xlsx").exists()


def test_million_column_header_is_refused_with_bounded_memory(tmp_path, db_url):
    cols = [f"c{i}" for i in range(1_000_000)]
    write(tmp_path / "landing" / "wide.csv", ",".join(["Id", *cols]) + "\n" + ",".join(["1"] * 1_000_001) + "\n")
    out = _run_in_subprocess(tmp_path, db_url, [lead_source(), _good_source(tmp_path)])
    by_src = {r["source"]: r for r in out["results"]}
    _one_line_refusal(by_src["web"], "web", "wide.csv", "max_columns")
    assert by_src["good"]["status"] == "landed" and by_src["good"]["rows_landed"] == 3
    assert out["maxrss_mb"] < MAX_RSS_MB, out["maxrss_mb"]


def test_limits_have_defaults_and_are_overridable_per_source(tmp_path, make_ctx, engine):
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    ctx = make_ctx({"ingest_limits": {"max_columns": 6},
                    "sources": [lead_source(), lead_source("good", name="good", limits={"max_columns": 50}),
                                ]}, engine)
    assert ctx.settings.source("web").limits.max_columns == 6
    assert ctx.settings.source("good").limits.max_columns == 50
    assert ctx.settings.source("good").limits.max_rows == 10_000_000        # default kept
    write(tmp_path / "good" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    by_src = {r["source"]: r for r in land(ctx)}
    _one_line_refusal(by_src["web"], "web", "a.csv", "7 columns, more than max_columns (6)")
    assert by_src["good"]["rows_landed"] == 3


def test_oversized_cell_quarantines_its_row(tmp_path, make_ctx, engine):
    big = "x" * 5000
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, ROWS[0], ROWS[1] + big, ROWS[2]]) + "\n")
    ctx = make_ctx({"sources": [lead_source(limits={"max_cell_bytes": 1000})]}, engine)
    r = land(ctx)[0]
    assert (r["status"], r["rows_landed"], r["rows_rejected"]) == ("landed", 2, 1), r
    q = quarantined(engine)
    assert "Notes" in q[0]["reasons"][0] and "max_cell_bytes" in q[0]["reasons"][0]
    assert len(q[0]["record"]["Notes"]) <= 1100            # the quarantined copy is cut too


def test_too_many_rows_and_long_lines_refuse_the_file(tmp_path, make_ctx, engine):
    write(tmp_path / "landing" / "a_rows.csv", "\n".join([HEADER, *ROWS]) + "\n")
    write(tmp_path / "landing" / "b_line.jsonl", json.dumps({"Id": "1", "Notes": "y" * 5000}) + "\n")
    ctx = make_ctx({"sources": [lead_source(limits={"max_rows": 2, "max_row_bytes": 4096})]}, engine)
    res = land(ctx)
    _one_line_refusal(res[0], "web", "a_rows.csv", "max_rows (2)")
    _one_line_refusal(res[1], "web", "b_line.jsonl", "max_row_bytes (4096)")
    assert rows(engine) == []


def test_xlsx_decompressed_size_is_capped(tmp_path, make_ctx, engine):
    (tmp_path / "landing").mkdir()
    p = _xlsx_with_dimension(tmp_path / "landing" / "z.xlsx", "A1:G2")
    write(p, p.read_bytes())
    ctx = make_ctx({"sources": [lead_source(limits={"max_decompressed_bytes": 2000})]}, engine)
    _one_line_refusal(land(ctx)[0], "web", "z.xlsx", "max_decompressed_bytes (2000)")


@pytest.mark.parametrize("ref", ["A1:G3", "A1:XFD1048576"])
def test_read_mapped_honours_the_caps(tmp_path, ref):
    from leadflow.config import Source
    from leadflow.errors import InputError
    from leadflow.ingest import read_mapped
    (tmp_path / "landing").mkdir()
    _xlsx_with_dimension(tmp_path / "landing" / "a.xlsx", ref)
    src = Source(**lead_source(str(tmp_path / "landing")))
    if ref == "A1:G3":
        assert len(read_mapped(src)) == 1
    else:
        with pytest.raises(InputError, match="max_columns"):
            read_mapped(src)
