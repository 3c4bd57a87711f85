"""The marketing report: self-contained HTML, safe CSV extracts, headless-Chromium render, CLI."""

from __future__ import annotations

import csv
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from leadflow import config as cfg
from leadflow.cli import main
from leadflow.context import RunContext
from leadflow.report import build, synthetic
from leadflow.store import db
from leadflow.store.schema import campaigns

CHROMIUM = Path("/usr/bin/chromium")
EVIL = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
RUN_ID = "test:2026-11-30&<b>"     # markup in a run id is shown, escaped once


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report on a synthetic SQLite warehouse, shared by the read-only checks below (the marts
    themselves are checked on both backends in test_report_marts; the CLI test builds on both)."""
    tmp = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{tmp / 'warehouse.db'}"
    engine = db.engine(url)
    db.init(engine)
    synthetic.seed(engine, n_people=1500, seed=2)
    with engine.begin() as c:
        c.execute(campaigns.update().where(campaigns.c.campaign_id == "C001").values(name=EVIL))
        c.execute(campaigns.update().where(campaigns.c.campaign_id == "C002").values(name=SCRIPT))
    settings = cfg.parse({"paths": {"reports_dir": str(tmp / "reports")}})
    out = build(RunContext(settings, engine, date(2026, 11, 30), RUN_ID))
    yield out, tmp
    engine.dispose()
    db._ENGINES.pop(url, None)


def test_build_writes_self_contained_html_and_csvs(report) -> None:
    out, tmp = report
    page = Path(out["html"])
    assert page == tmp / "reports" / "marketing" / "2026-11-30.html"
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 6
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text), "report must not load anything remotely"
    for title in ("Funnel by channel", "Conversion and cost per step", "ROI per campaign",
                  "Attribution side by side", "Where leads stall"):
        assert title in text
    assert SCRIPT not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text   # escaped, not live
    assert "run test:2026-11-30&amp;&lt;b&gt;" in text and "&amp;amp;" not in text and "&amp;lt;" not in text
    names = {p.stem for p in Path(out["csv_dir"]).glob("*.csv")}
    assert {"funnel", "campaign_performance", "sla_compliance", "speed_to_lead", "rejection_reasons",
            "stage_times", "attribution_by_campaign", "attribution_by_channel"} <= names
    assert out["csv_files"] == len(names) and out["leads"] == 1500


def test_csv_extracts_are_formula_safe(report) -> None:
    out, _ = report
    with open(Path(out["csv_dir"]) / "campaign_performance.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = [r["campaign_name"] for r in rows]
    assert "'" + EVIL in names and EVIL not in names
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert any(float(r["spend"]) > 0 for r in rows)        # numbers stay numbers


def _distinct_colours(png: Path) -> int:
    from PIL import Image
    img = Image.open(png).convert("RGB").quantize(colors=64).convert("RGB")
    counts = img.getcolors(maxcolors=1 << 16) or []
    saturated = [(n, c) for n, c in counts if max(c) - min(c) > 60 and n >= 300]
    return len(saturated)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (/usr/bin/chromium; "
                                                  "Debian package 'chromium', installed by .ci/run)")
def test_report_renders_in_headless_chromium(report, tmp_path) -> None:
    out, _ = report
    shot = tmp_path / "shot.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'chrome'}", f"--screenshot={shot}", "--window-size=1200,2000",
           Path(out["html"]).as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 20_000, "Chromium wrote no screenshot"
    assert _distinct_colours(shot) >= 6, "the screenshot shows no drawn charts"
    # a blank page of the same size has none: the check can fail
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body><h1>empty</h1></body></html>")
    shot2 = tmp_path / "blank.png"
    cmd[-3], cmd[-1] = f"--screenshot={shot2}", blank.as_uri()
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert _distinct_colours(shot2) == 0


def test_cli_report_funnel_prints_summary(engine, make_ctx, tmp_path, capsys, monkeypatch) -> None:
    synthetic.seed(engine, n_people=400, seed=4)
    ctx = make_ctx({"paths": {"reports_dir": str(tmp_path / "r")}}, engine)
    monkeypatch.setenv("LEADFLOW_CONFIG", str(ctx.settings.config_path))
    monkeypatch.setenv("COLUMNS", "160")
    rc = main(["report", "funnel", "--from", "2026-09-07", "--to", "2026-11-30"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Funnel by channel" in out and "paid_search" in out and "w shaped" in out
    assert (tmp_path / "r" / "marketing" / "2026-11-30.html").exists()
    assert main(["report", "funnel", "--from", "2026-12-01", "--to", "2026-11-30"]) != 0
    assert "after --to" in capsys.readouterr().err



def test_empty_warehouse_gives_a_report_not_an_error(engine, make_ctx, tmp_path) -> None:
    ctx = make_ctx({"paths": {"reports_dir": str(tmp_path / "r")}}, engine)
    out = build(ctx)
    assert out["leads"] == 0 and out["won_revenue"] == 0
    assert "Nothing to show for this window" in Path(out["html"]).read_text(encoding="utf-8")
