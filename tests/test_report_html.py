"""The marketing report: self-contained HTML, safe CSV extracts, headless-Chromium render, CLI."""

from __future__ import annotations

import csv
import re
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leadflow import config as cfg
from leadflow.cli import main
from leadflow.context import RunContext
from leadflow.report import build, synthetic
from leadflow.store import db
from leadflow.store.schema import campaigns

CHROMIUM = Path("/usr/bin/chromium")
# on each screenshot test: where .ci/run could not install Chromium, they skip and say why
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed "
                                    "(/usr/bin/chromium; Debian package 'chromium', installed by .ci/run)")
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
                  "Attribution side by side", "Where leads stall", "Weekly cohorts", "Landing pages"):
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


def _screenshot(page: Path, shot: Path, tmp_path: Path) -> None:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'chrome'}", f"--screenshot={shot}", "--window-size=1200,2000",
           page.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path) -> None:
    out, _ = report
    shot = tmp_path / "shot.png"
    _screenshot(Path(out["html"]), shot, tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000, "Chromium wrote no screenshot"
    assert _distinct_colours(shot) >= 6, "the screenshot shows no drawn charts"
    # a blank page of the same size has none: the check can fail
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body><h1>empty</h1></body></html>")
    shot2 = tmp_path / "blank.png"
    _screenshot(blank, shot2, tmp_path)
    assert _distinct_colours(shot2) == 0


@needs_chromium
def test_weekly_trend_chart_is_drawn_in_headless_chromium(report, tmp_path) -> None:
    """Only the trend section is shown (the others hidden by a style): its chart must be drawn."""
    out, _ = report
    text = Path(out["html"]).read_text(encoding="utf-8")
    assert '<section id="trend">' in text
    only = "<style>section{display:none}section#trend{display:block}.kpis{display:none}</style></head>"
    page = Path(out["html"]).with_name("trend_only.html")
    page.write_text(text.replace("</head>", only, 1), encoding="utf-8")
    shot = tmp_path / "trend.png"
    _screenshot(page, shot, tmp_path)
    assert _distinct_colours(shot) >= 2, "the weekly trend chart is not drawn"
    # the same page without the chart's image shows nothing coloured: the check can fail
    bare = re.sub(r'(<section id="trend">.*?)<img [^>]*>', r"\1", text.replace("</head>", only, 1), flags=re.S)
    page.write_text(bare, encoding="utf-8")
    shot2 = tmp_path / "bare.png"
    _screenshot(page, shot2, tmp_path)
    assert _distinct_colours(shot2) == 0


def test_cli_report_funnel_prints_summary(engine, make_ctx, tmp_path, capsys, monkeypatch) -> None:
    synthetic.seed(engine, n_people=400, seed=4)
    ctx = make_ctx({"paths": {"reports_dir": str(tmp_path / "r")}}, engine)
    monkeypatch.setenv("LEADFLOW_CONFIG", str(ctx.settings.config_path))
    monkeypatch.setenv("COLUMNS", "160")
    rc = main(["report", "funnel", "--from", "2026-09-07", "--to", "2026-11-30", "--as-of", "2026-11-30"])
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


def test_cli_as_of_cuts_events_not_the_cohort(engine, make_ctx, tmp_path, capsys, monkeypatch) -> None:
    """``--from/--to`` choose which leads; ``--as-of`` chooses which events count."""
    from datetime import datetime

    from leadflow.report import marts
    synthetic.seed(engine, n_people=400, seed=4)
    ctx = make_ctx({"paths": {"reports_dir": str(tmp_path / "r")}}, engine)
    monkeypatch.setenv("LEADFLOW_CONFIG", str(ctx.settings.config_path))
    monkeypatch.setenv("COLUMNS", "160")

    def funnel_csv(day: str) -> dict[str, float]:
        with open(tmp_path / "r" / "marketing" / day / "funnel_by_week.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {k: sum(float(r[k]) for r in rows) for k in ("people", "sals", "customers")}

    assert main(["report", "funnel", "--from", "2026-09-07", "--to", "2026-09-20", "--as-of", "2026-09-27"]) == 0
    early = funnel_csv("2026-09-27")
    assert main(["report", "funnel", "--from", "2026-09-07", "--to", "2026-09-20", "--as-of", "2026-11-30"]) == 0
    late = funnel_csv("2026-11-30")
    out = capsys.readouterr().out
    assert "outcomes known by 2026-11-30" in " ".join(out.split())     # the console may wrap it
    # same cohort, more of its story known later
    assert early["people"] == late["people"] > 0 and early["customers"] < late["customers"]
    exp = marts.rollup(marts.run(engine, marts.Window(date(2026, 9, 7), date(2026, 9, 20),
                                                      datetime(2026, 9, 27, 23, 59, 59)))["funnel"], [])
    assert early["sals"] == exp["sals"].iloc[0] and early["customers"] == exp["customers"].iloc[0]
    page = (tmp_path / "r" / "marketing" / "2026-09-27.html").read_text(encoding="utf-8")
    assert "Leads created 2026-09-07 to 2026-09-20" in page and "outcomes known by 2026-09-27" in page
    assert main(["report", "funnel", "--to", "2026-10-01", "--as-of", "2026-09-30"]) != 0
    assert "--as-of 2026-09-30 is before --to 2026-10-01" in capsys.readouterr().err



class _Tables(HTMLParser):
    """Rows of the table inside each ``<section id=...>`` and the section's links and text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._sec: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self._sec = a.get("id") or f"s{len(self.sections)}"
            self.sections[self._sec] = {"rows": [], "links": [], "text": ""}
        elif self._sec and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = []
        elif self._sec and tag == "a":
            self.sections[self._sec]["links"].append(a.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._sec:
            self.sections[self._sec]["rows"].append(self._row)
            self._row = None
        elif tag == "section":
            self._sec = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._sec:
            self.sections[self._sec]["text"] += data


def _sections(html: str) -> dict[str, dict]:
    p = _Tables()
    p.feed(html)
    return p.sections


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A warehouse with more campaigns and landing pages than a table shows."""
    tmp = tmp_path_factory.mktemp("wide")
    url = f"sqlite:///{tmp / 'warehouse.db'}"
    engine = db.engine(url)
    db.init(engine)
    frames = synthetic.seed(engine, n_people=1200, seed=5, n_campaigns=40)
    settings = cfg.parse({"paths": {"reports_dir": str(tmp / "reports")},
                          "report": {"currency": "USD", "top_n": 10}})
    out = build(RunContext(settings, engine, date(2026, 11, 30), "wide"))
    yield out, frames, Path(out["html"]).read_text(encoding="utf-8")
    engine.dispose()
    db._ENGINES.pop(url, None)


def _num(v: str) -> float:
    return float(v.replace(",", "").rstrip("%") or "nan")


def test_campaign_table_is_top_n_by_volume_with_notice_and_csv_link(wide) -> None:
    out, frames, html = wide
    sec = _sections(html)["campaigns"]
    head, rows = sec["rows"][0], sec["rows"][1:]
    assert len(rows) == 10
    m = frames["campaigns"].shape[0] + 1          # every campaign has leads, plus "(none)"
    assert f"Top 10 of {m} campaigns by leads" in sec["text"]
    leads = [_num(r[head.index("leads")]) for r in rows]
    assert leads == sorted(leads, reverse=True)
    p = frames["people"]
    per = p["first_campaign_id"].fillna("(none)").value_counts()
    assert min(leads) >= per.iloc[10]           # nothing hidden outranks what is shown
    names = dict(zip(frames["campaigns"]["campaign_id"], frames["campaigns"]["name"]))
    top = per.index[0]
    assert names.get(top, top) in [r[head.index("campaign")] for r in rows]
    link = [h for h in sec["links"] if h and h.endswith("campaign_performance.csv")]
    assert link and (Path(out["html"]).parent / link[0]).exists()
    with open(Path(out["html"]).parent / link[0], newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == m       # the rest is in the CSV


def test_landing_page_table_is_top_n_with_notice(wide) -> None:
    out, frames, html = wide
    sec = _sections(html)["landing_pages"]
    head, rows = sec["rows"][0], sec["rows"][1:]
    t = frames["touches"].sort_values(["person_id", "occurred_at"]).drop_duplicates("person_id")
    pages = t["url"].str.split("?").str[0].value_counts()
    assert f"Top 10 of {len(pages)} landing pages by leads" in sec["text"]
    assert [r[head.index("landing page")] for r in rows][0] == pages.index[0]
    assert _num(rows[0][head.index("leads")]) == pages.iloc[0]
    assert any(h and h.endswith("landing_pages.csv") for h in sec["links"])


def test_campaign_names_everywhere_currency_and_labels(wide) -> None:
    _, frames, html = wide
    s = _sections(html)
    ids = set(frames["campaigns"]["campaign_id"])
    for key in ("campaigns", "attribution"):
        head = s[key]["rows"][0]
        assert "campaign" in head and "campaign_id" not in head, key
        shown = {r[head.index("campaign")] for r in s[key]["rows"][1:]}
        assert shown and not shown & ids, f"campaign ids shown in {key}"
    assert "USD" in s["campaigns"]["rows"][0][s["campaigns"]["rows"][0].index("spend (USD)")]
    assert "spend (USD)" in html and "revenue (USD)" in html
    ch = s["channels"]
    assert "win rate (customers / opportunities)" in ch["rows"][0]
    assert "(none)" in [r[0] for r in ch["rows"][1:]] and "(none) = no channel" in ch["text"]
