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

from leadflow.context import RunContext
from leadflow.report import attribution, charts, marts
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


def compute(engine: Any, w: marts.Window) -> dict[str, Any]:
    """All report data for a window: marts, roll-ups, summaries and attribution."""
    m = marts.run(engine, w)
    f = m["funnel"]
    total = marts.rollup(f, []).iloc[0] if len(f) else pd.Series(dtype=float)
    perf = m["campaign_performance"]
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
        "funnel_by_campaign": marts.rollup(f, ["campaign_id", "channel"]),
        "funnel_by_source": marts.rollup(f, "source"),
        "funnel_by_week": marts.rollup(f, "cohort_week"),
        "stage_durations": marts.stage_durations(m["stage_times"]),
        "stage_durations_by_channel": marts.stage_durations(m["stage_times"], ["channel"]),
        "speed_to_lead_by_rep": marts.speed_summary(m["speed_to_lead"], "owner_rep"),
        "speed_to_lead_by_channel": marts.speed_summary(m["speed_to_lead"], "channel"),
        "attribution_by_campaign": attribution.summarise(credits, "campaign_id"),
        "attribution_by_channel": attribution.summarise(credits, "channel"),
    }
    derived["model_health"] = _model_health(engine)
    return {"window": w, "marts": m, "derived": derived, "total": total, "perf_total": pt,
            "credits": credits, "won_cents": attribution.won_cents(m["attribution_deals"])}


def write_csvs(data: dict[str, Any], folder: Path) -> list[Path]:
    paths = []
    frames = {**{k: v for k, v in data["marts"].items() if k != "stage_times"},
              **data["derived"], "attribution_credits": data["credits"]}
    frames["stage_times"] = data["marts"]["stage_times"]
    for name, df in sorted(frames.items()):
        text = safe_for_spreadsheet(df).to_csv(index=False)
        paths.append(shared.put(folder / f"{name}.csv", text.encode("utf-8")))
    return paths


def _table(df: pd.DataFrame, money: tuple[str, ...] = (), pct: tuple[str, ...] = (), limit: int = 25) -> str:
    d = df.head(limit).copy()
    for c in d.columns:
        if c in money:
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        elif c in pct:
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v * 100:.1f}%")
        elif pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
    return d.to_html(index=False, border=0, classes="t", escape=True, na_rep="")


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
table.t th{background:#f3f6fa}.note{color:#666;font-size:12px}
</style></head><body>
<h1>Marketing report</h1>
<p class="sub">Leads created {{ start }} to {{ end }} &middot; outcomes known by {{ as_of }} \
&middot; run {{ run_id }}</p>
<div class="kpis">{% for k, v in kpis %}<div class="kpi"><b>{{ v }}</b><span>{{ k }}</span></div>{% endfor %}</div>
{% for s in sections %}<section><h2>{{ s.title }}</h2>
{% if s.img %}<img alt="{{ s.title }}" src="{{ s.img }}">\
{% elif s.img is none %}<p class="note">Nothing to show for this window.</p>{% endif %}
{% if s.note %}<p class="note">{{ s.note }}</p>{% endif %}
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


def render_html(data: dict[str, Any], run_date: date, run_id: str, csv_dir: Path) -> str:
    w, dv, t, pt = data["window"], data["derived"], data["total"], data["perf_total"]
    perf = data["marts"]["campaign_performance"]

    def n(k: str) -> int:
        return int(t.get(k, 0)) if len(t) else 0

    kpis = [("leads", f"{n('leads'):,}"), ("MQLs", f"{n('mqls'):,}"), ("SALs", f"{n('sals'):,}"),
            ("opportunities", f"{n('opportunities'):,}"), ("customers", f"{n('customers'):,}"),
            ("spend", f"{pt['spend']:,.0f}"), ("revenue (cohort)", f"{pt['revenue']:,.0f}"),
            ("ROI", "n/a" if pd.isna(pt["roi"]) else f"{pt['roi'] * 100:.0f}%"),
            ("won revenue (window)", f"{data['won_cents'] / 100:,.0f}")]
    rates = ("mql_rate", "sal_rate", "sql_rate", "opportunity_rate", "win_rate")
    sections = [
        {"title": "Funnel by channel", "img": charts.funnel_by_channel(dv["funnel_by_channel"]),
         "table": _table(dv["funnel_by_channel"][["channel", "leads", "mqls", "sals", "sqls", "opportunities",
                                                   "customers", *rates]], pct=rates)},
        {"title": "Conversion and cost per step", "img": charts.conversion_and_cost(t, pt),
         "note": "Counts are people reaching the step or a later one; selling steps come from sales' outcomes."},
        {"title": "ROI per campaign", "img": charts.roi_per_campaign(perf),
         "table": _table(perf[["campaign_name", "channel", "spend", "leads", "mqls", "opportunities", "customers",
                               "revenue", "cost_per_lead", "cost_per_mql", "cost_per_opportunity",
                               "cost_per_customer", "roi"]],
                         money=("spend", "revenue", "cost_per_lead", "cost_per_mql", "cost_per_opportunity",
                                "cost_per_customer"), pct=("roi",))},
        {"title": "Attribution side by side", "img": charts.attribution_side_by_side(dv["attribution_by_channel"]),
         "note": "Revenue won in the window credited over the touches before the opportunity; every model "
                 "sums to the won revenue.",
         "table": _table(dv["attribution_by_campaign"], money=attribution.MODELS)},
        {"title": "Where leads stall", "img": charts.stalls(dv["stage_durations"]),
         "table": _table(dv["stage_durations"])},
        {"title": "SLA compliance and speed-to-lead", "img": charts.sla_by_rep(data["marts"]["sla_compliance"],
                                                                             dv["speed_to_lead_by_rep"]),
         "table": _table(dv["speed_to_lead_by_rep"])},
        {"title": "Sales rejection reasons", "img": None if data["marts"]["rejection_reasons"].empty else "",
         "table": _table(data["marts"]["rejection_reasons"].groupby("reason_code", as_index=False)["rejections"]
                         .sum().sort_values("rejections", ascending=False))},
    ]
    health = dv.get("model_health")
    if health is not None and len(health):
        sections.append({"title": "Lead-score model health (weekly, on realised outcomes)", "img": "",
                         "note": "PSI compares this week's scores with the training window (above "
                                 "the configured limit: the population has shifted); calibration "
                                 "error compares predicted and observed conversion of the handoffs "
                                 "closed that week.", "table": _table(health)})
    for s in sections:
        s.setdefault("note", "")
        s.setdefault("table", "")
    return TEMPLATE.render(run_date=run_date, start=w.start, end=w.end, as_of=w.as_of, run_id=run_id,
                           kpis=kpis, sections=sections, csv_dir=str(csv_dir))


def build(ctx: RunContext, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Write ``<reports_dir>/marketing/<run_date>.html`` and the CSV extracts; return paths and counts.

    Window: leads created from ``start`` (default: the first person) to ``end`` (default: the
    run date), outcomes known by the end of ``end``.
    """
    return build_with_data(ctx, start, end)[0]


def build_with_data(ctx: RunContext, start: date | None = None, end: date | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``build`` that also returns the computed data (for the CLI's text summary)."""
    w = marts.window_for(ctx.engine, ctx.run_date, start, end)
    data = compute(ctx.engine, w)
    out_dir = ctx.settings.reports_dir / "marketing"
    csv_dir = out_dir / ctx.run_date.isoformat()
    csvs = write_csvs(data, csv_dir)
    page = out_dir / f"{ctx.run_date.isoformat()}.html"
    shared.put(page, render_html(data, ctx.run_date, ctx.run_id, csv_dir).encode("utf-8"))
    t = data["total"]
    return {"html": str(page), "csv_dir": str(csv_dir), "csv_files": len(csvs),
            "window": f"{w.start}..{w.end}", "leads": int(t.get("leads", 0)) if len(t) else 0,
            "customers": int(t.get("customers", 0)) if len(t) else 0,
            "won_revenue": data["won_cents"] / 100,
            "spend": round(float(data["perf_total"]["spend"]), 2)}, data
