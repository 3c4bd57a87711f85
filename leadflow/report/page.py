"""The marketing report: one self-contained HTML file per run plus CSV extracts of every mart.

Self-contained: charts are embedded PNG (base64) and styles inline, so the file opens offline
and survives being emailed. CSVs are formula-injection safe (text cells starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return get a leading apostrophe).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from leadflow.config import Report
from leadflow.context import RunContext
from leadflow.report import attribution, charts, marts, outcomes
from leadflow.store import shared

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_for_spreadsheet(df: pd.DataFrame) -> pd.DataFrame:
    """Neutralise spreadsheet formulas in text cells (numbers stay numbers)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            s = out[c].astype("string")
            risky = s.str.startswith(DANGEROUS).fillna(False)
            out[c] = s.where(~risky, "'" + s)
    return out


def compute(engine: Any, w: marts.Window, settings: Any = None) -> dict[str, Any]:
    """All report data for a window: marts, roll-ups, summaries and attribution (``settings``
    gives the aging that infers losses for wins-only CRMs)."""
    m = marts.run(engine, w)
    f = m["funnel"]
    total = marts.rollup(f, []).iloc[0] if len(f) else pd.Series(dtype=float)
    perf = marts.with_names(m["campaign_performance"].drop(columns="campaign_name"), m["campaign_names"])
    m["campaign_performance"] = perf
    spend, revenue = float(perf["spend"].sum()), float(perf["revenue"].sum())
    pt = pd.Series({"spend": spend, "revenue": revenue,
                    "cost_per_lead": spend / total["leads"] if len(f) and total["leads"] else np.nan,
                    "cost_per_mql": spend / total["mqls"] if len(f) and total["mqls"] else np.nan,
                    "cost_per_opportunity": (spend / total["opportunities"]
                                             if len(f) and total["opportunities"] else np.nan),
                    "cost_per_customer": spend / total["customers"] if len(f) and total["customers"] else np.nan,
                    "roi": (revenue - spend) / spend if spend else np.nan})
    credits = attribution.credit(m["attribution_deals"], m["attribution_touches"])
    derived = {
        "funnel_by_channel": marts.rollup(f, "channel"),
        "funnel_by_campaign": marts.with_names(marts.rollup(f, ["campaign_id", "channel"]), m["campaign_names"]),
        "funnel_by_source": marts.rollup(f, "source"),
        "funnel_by_week": marts.rollup(f, "cohort_week"),
        "landing_pages": marts.landing_pages(m["landing_urls"]),
        "stage_durations": marts.stage_durations(m["stage_times"]),
        "stage_durations_by_channel": marts.stage_durations(m["stage_times"], ["channel"]),
        "speed_to_lead_by_rep": marts.speed_summary(m["speed_to_lead"], "owner_rep"),
        "speed_to_lead_by_channel": marts.speed_summary(m["speed_to_lead"], "channel"),
        "attribution_by_campaign": marts.with_names(attribution.summarise(credits, "campaign_id"),
                                                    m["campaign_names"]),
        "attribution_by_channel": attribution.summarise(credits, "channel"),
    }
    derived["model_health"] = _model_health(engine)
    derived["handoff_outcomes_by_channel"] = outcomes.by_channel(engine, w, settings)
    return {"aging_note": outcomes.aging_note(settings), "window": w, "marts": m, "derived": derived,
            "total": total, "perf_total": pt, "credits": credits,
            "won_cents": attribution.won_cents(m["attribution_deals"])}


def write_csvs(data: dict[str, Any], folder: Path) -> list[Path]:
    paths = []
    frames = {**{k: v for k, v in data["marts"].items() if k != "stage_times"},
              **data["derived"], "attribution_credits": data["credits"]}
    frames["stage_times"] = data["marts"]["stage_times"]
    for name, df in sorted(frames.items()):
        text = safe_for_spreadsheet(df).to_csv(index=False)
        paths.append(shared.put(folder / f"{name}.csv", text.encode("utf-8")))
    return paths


def _table(df: pd.DataFrame, money: tuple[str, ...] = (), pct: tuple[str, ...] = (), limit: int = 25,
           labels: dict[str, str] | None = None) -> str:
    """An HTML table of the first ``limit`` rows, numbers formatted, columns renamed by ``labels``."""
    d = df.head(limit).copy()
    for c in d.columns:
        if c in money:
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        elif c in pct:
            d[c] = d[c].map(lambda v: "n/a" if pd.isna(v) else f"{v * 100:.1f}%")
        elif pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
    d = d.rename(columns=labels or {})
    return d.to_html(index=False, border=0, classes="t", escape=True, na_rep="")


def _money_labels(cols: tuple[str, ...], currency: str | None) -> dict[str, str]:
    unit = f" ({currency})" if currency else ""
    return {c: c.replace("_", " ") + unit for c in cols}


TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadflow marketing report {{ run_date }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{margin-bottom:0}.sub{color:#666;margin-top:4px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.kpi{background:#f3f6fa;border-radius:8px;padding:10px 16px;min-width:120px}
.kpi b{display:block;font-size:22px}.kpi span{color:#555;font-size:12px}
section{margin:28px 0}img{max-width:100%}
table.t{border-collapse:collapse;font-size:12px;margin-top:8px}
table.t th,table.t td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
table.t th{background:#f3f6fa}table.t td:first-child{white-space:nowrap}
.note{color:#666;font-size:12px}.notice{font-size:13px}
</style></head><body>
<h1>Marketing report</h1>
<p class="sub">Leads created {{ start }} to {{ end }} &middot; outcomes known by {{ as_of }} \
&middot; run {{ run_id }}</p>
<div class="kpis">{% for k, v in kpis %}<div class="kpi"><b>{{ v }}</b><span>{{ k }}</span></div>{% endfor %}</div>
{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% if s.img %}<img alt="{{ s.title }}" src="{{ s.img }}">\
{% elif s.img is none %}<p class="note">Nothing to show for this window.</p>{% endif %}
{% if s.note %}<p class="note">{{ s.note }}</p>{% endif %}
{% if s.notice %}<p class="notice">{{ s.notice }}{% if s.link %} &middot; <a href="{{ s.link }}">\
{{ s.link_text }}</a>{% endif %}</p>{% endif %}
{{ s.table | safe }}</section>{% endfor %}
<p class="note">Definitions: docs/reporting.md. CSV extracts of every mart: {{ csv_dir }}</p>
</body></html>""", autoescape=True)


def _model_health(engine: Any) -> pd.DataFrame:
    """The live model's weekly checks (leadflow.score.monitor), newest first; empty without."""
    from leadflow.score import monitor
    h = monitor.history(engine, weeks=8)
    if h.empty:
        return pd.DataFrame(columns=["week_start", "version", "scored", "closed", "roc_auc",
                                     "calibration_error", "psi_score", "alerts"])
    h = h[["week_start", "version", "scored", "closed", "roc_auc", "calibration_error",
           "psi_score", "alerts"]].copy()
    h["alerts"] = h["alerts"].map(lambda a: "; ".join(a) if a else "ok")
    return h


RATE_LABELS = {"mql_rate": "lead→MQL", "sal_rate": "MQL→SAL", "sql_rate": "SAL→SQL",
               "opportunity_rate": "SQL→opportunity", "win_rate": "win rate (customers / opportunities)"}
STAGE_COLS = ("leads", "mqls", "sals", "sqls", "opportunities", "customers")
COSTS = ("spend", "revenue", "cost_per_lead", "cost_per_mql", "cost_per_opportunity", "cost_per_customer")
NONE_NOTE = ("(none) = no channel (or campaign) recorded on the lead's first record: direct, offline or "
             "unknown origin. ")
RATE_NOTE = ("Each rate is people who reached the next stage or a later one, divided by people who reached "
             "this stage or a later one (same leads, so never above 100%). n/a: nobody was seen in the "
             "base stage on its own (sales only reported a later stage, so the rate would be 100% by "
             "construction). Definitions: docs/reporting.md.")


def _ranked_section(sid: str, title: str, df: pd.DataFrame, what: str, name_col: str, opts: Report,
                    csv_link: str, cols: list[str], labels: dict[str, str], money: tuple[str, ...] = (),
                    pct: tuple[str, ...] = (), extra: str = "", img: str | None | bool = False,
                    by: str | None = None, note: str = "") -> dict[str, Any]:
    """A table of the top ``opts.top_n`` rows by ``by`` (default ``opts.rank_by``), saying how
    many there are and linking the CSV that holds them all."""
    by = by or opts.rank_by
    top, m = marts.ranked(df, by, opts.top_n, name_col)
    said = by.replace("_", "-") + (" revenue" if by in attribution.MODELS else "")
    lead = f"Top {len(top)} of {m} {what} by {said}" if m > len(top) else f"All {m} {what}, by {said}"
    return {"id": sid, "title": title, "img": img if img is not False else "", "note": note,
            "notice": lead + extra, "link": csv_link, "link_text": f"full list: {csv_link.rsplit('/', 1)[-1]}",
            "table": _table(top[cols], money=money, pct=pct, limit=len(top), labels=labels)}


def _sections(data: dict[str, Any], csv_rel: str, opts: Report) -> list[dict[str, Any]]:
    dv, t, pt = data["derived"], data["total"], data["perf_total"]
    perf = data["marts"]["campaign_performance"]
    money = _money_labels(COSTS, opts.currency)
    lp = dv["landing_pages"]
    known = lp[lp["landing_page"] != "(unknown)"]
    unknown = int(lp.loc[lp["landing_page"] == "(unknown)", "leads"].sum())
    wk = dv["funnel_by_week"]
    return [
        {"id": "channels", "title": "Funnel by channel", "img": charts.funnel_by_channel(dv["funnel_by_channel"]),
         "note": NONE_NOTE + RATE_NOTE,
         "table": _table(dv["funnel_by_channel"][["channel", *STAGE_COLS, *RATE_LABELS]], pct=tuple(RATE_LABELS),
                         labels=RATE_LABELS)},
        {"id": "trend", "title": "Weekly cohorts: leads by the week they were created",
         "img": charts.weekly_trend(wk),
         "note": f"Each week's leads as known by {data['window'].as_of:%Y-%m-%d}: recent weeks have had less "
                 "time to convert.",
         "table": _table(wk[["cohort_week", *STAGE_COLS, "mql_rate", "win_rate"]], pct=("mql_rate", "win_rate"),
                         limit=len(wk), labels={"cohort_week": "week of", **RATE_LABELS})},
        {"id": "conversion", "title": "Conversion and cost per step", "img": charts.conversion_and_cost(t, pt),
         "note": "Counts are people reaching the step or a later one; selling steps come from sales' outcomes "
                 "and count only people who reached SAL."},
        _ranked_section("campaigns", "Campaigns: volume, cost and ROI per campaign", perf, "campaigns",
                        "campaign_name", opts,
                        f"{csv_rel}/campaign_performance.csv",
                        ["campaign_name", "channel", *[c for c in STAGE_COLS if c in perf], *COSTS, "roi"],
                        {"campaign_name": "campaign", **money}, money=COSTS, pct=("roi",),
                        img=charts.roi_per_campaign(perf)),
        _ranked_section("landing_pages", "Landing pages", known, "landing pages", "landing_page", opts,
                        f"{csv_rel}/landing_pages.csv",
                        ["landing_page", "leads", "mqls", "opportunities", "customers", "revenue"],
                        {"landing_page": "landing page", **money}, money=("revenue",),
                        extra=f"; {unknown:,} leads with no known landing page" if unknown else ""),
        _ranked_section("attribution", "Attribution side by side", dv["attribution_by_campaign"], "campaigns",
                        "campaign_name", opts, f"{csv_rel}/attribution_by_campaign.csv",
                        [c for c in dv["attribution_by_campaign"].columns if c != "campaign_id"],
                        {"campaign_name": "campaign"}, money=attribution.MODELS, by=attribution.MODELS[0],
                        img=charts.attribution_side_by_side(dv["attribution_by_channel"]),
                        note="Revenue won in the window credited over the touches before the opportunity; every "
                             "model sums to the won revenue."
                             + (f" Amounts in {opts.currency}." if opts.currency else "")),
        {"id": "handoff_outcomes", "title": "Handoff outcomes: won, lost (reported), lost (inferred)",
         "img": "", "note": data.get("aging_note", ""),
         "table": _table(dv["handoff_outcomes_by_channel"], limit=len(dv["handoff_outcomes_by_channel"]),
                         labels={"lost_reported": "lost (reported)", "lost_inferred": "lost (inferred)",
                                 "open": "open (no outcome yet)"})},
        {"id": "stalls", "title": "Where leads stall", "img": charts.stalls(dv["stage_durations"]),
         "table": _table(dv["stage_durations"])},
        {"id": "sla", "title": "SLA compliance and speed-to-lead",
         "img": charts.sla_by_rep(data["marts"]["sla_compliance"], dv["speed_to_lead_by_rep"]),
         "table": _table(dv["speed_to_lead_by_rep"])},
        {"id": "rejections", "title": "Sales rejection reasons",
         "img": None if data["marts"]["rejection_reasons"].empty else "",
         "table": _table(data["marts"]["rejection_reasons"].groupby("reason_code", as_index=False)["rejections"]
                         .sum().sort_values("rejections", ascending=False))},
    ]


def render_html(data: dict[str, Any], run_date: date, run_id: str, csv_dir: Path,
                opts: Report | None = None) -> str:
    opts = opts or Report()
    w, dv, t, pt = data["window"], data["derived"], data["total"], data["perf_total"]
    cur = f" ({opts.currency})" if opts.currency else ""

    def n(k: str) -> int:
        return int(t.get(k, 0)) if len(t) else 0

    kpis = [("leads", f"{n('leads'):,}"), ("MQLs", f"{n('mqls'):,}"), ("SALs", f"{n('sals'):,}"),
            ("opportunities", f"{n('opportunities'):,}"), ("customers", f"{n('customers'):,}"),
            (f"spend{cur}", f"{pt['spend']:,.0f}"), (f"revenue (cohort){cur}", f"{pt['revenue']:,.0f}"),
            ("ROI", "n/a" if pd.isna(pt["roi"]) else f"{pt['roi'] * 100:.0f}%"),
            (f"won revenue (window){cur}", f"{data['won_cents'] / 100:,.0f}")]
    sections = _sections(data, csv_dir.name, opts)
    health = dv.get("model_health")
    if health is not None and len(health):
        sections.append({"id": "model_health", "title": "Lead-score model health (weekly, on realised outcomes)",
                         "img": "",
                         "note": "PSI compares this week's scores with the training window (above "
                                 "the configured limit: the population has shifted); calibration "
                                 "error compares predicted and observed conversion of the handoffs "
                                 "closed that week.", "table": _table(health)})
    for s in sections:
        for k in ("note", "table", "notice", "link", "link_text"):
            s.setdefault(k, "")
    return TEMPLATE.render(run_date=run_date, start=w.start, end=w.end, as_of=w.as_of, run_id=run_id,
                           kpis=kpis, sections=sections, csv_dir=str(csv_dir))


def build(ctx: RunContext, start: date | None = None, end: date | None = None,
          as_of: date | None = None) -> dict[str, Any]:
    """Write ``<reports_dir>/marketing/<run_date>.html`` and the CSV extracts; return paths and counts.

    Window: leads created from ``start`` (default: the first person) to ``end`` (default: the
    run date); events known by the end of ``as_of`` (default: the run date).
    """
    return build_with_data(ctx, start, end, as_of)[0]


def build_with_data(ctx: RunContext, start: date | None = None, end: date | None = None,
                    as_of: date | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``build`` that also returns the computed data (for the CLI's text summary)."""
    w = marts.window_for(ctx.engine, ctx.run_date, start, end, as_of)
    data = compute(ctx.engine, w, ctx.settings)
    out_dir = ctx.settings.reports_dir / "marketing"
    csv_dir = out_dir / ctx.run_date.isoformat()
    csvs = write_csvs(data, csv_dir)
    page = out_dir / f"{ctx.run_date.isoformat()}.html"
    shared.put(page, render_html(data, ctx.run_date, ctx.run_id, csv_dir, ctx.settings.report).encode("utf-8"))
    t = data["total"]
    return {"html": str(page), "csv_dir": str(csv_dir), "csv_files": len(csvs),
            "window": f"{w.start}..{w.end}", "as_of": w.as_of.date().isoformat(),
            "leads": int(t.get("leads", 0)) if len(t) else 0,
            "customers": int(t.get("customers", 0)) if len(t) else 0,
            "won_revenue": data["won_cents"] / 100,
            "spend": round(float(data["perf_total"]["spend"]), 2)}, data
