"""Reporting commands: ``leadflow report funnel --from D --to D --as-of D`` and ``leadflow feedback apply``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt, parse_date

console = Console()
report_app = typer.Typer(help="Marketing reports: funnel, cost, ROI, attribution.", no_args_is_help=True)
feedback_app = typer.Typer(help="Sales outcomes back onto handoffs and the lifecycle.", no_args_is_help=True)



def _fmt(v: Any, money: bool = False, pct: bool = False) -> str:
    import pandas as pd
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    if pct:
        return f"{float(v) * 100:.1f}%"
    if money:
        return f"{float(v):,.0f}"
    return f"{int(v):,}"


@report_app.command("funnel")
def cmd_funnel(config: ConfigOpt = None,
               date_from: Annotated[str | None, typer.Option(
                   "--from", help="First day of leads (YYYY-MM-DD; default: the first lead)")] = None,
               date_to: Annotated[str | None, typer.Option(
                   "--to", help="Last day of leads (YYYY-MM-DD; default: the as-of day)")] = None,
               as_of: Annotated[str | None, typer.Option(
                   "--as-of", help="Count events known by the end of this day (YYYY-MM-DD; default: "
                                   "today); the report is filed under this day")] = None) -> None:
    """Write the HTML marketing report and CSV extracts for a cohort of leads, and print a summary.

    ``--from/--to`` choose which leads (by creation day); ``--as-of`` chooses which events count.
    """
    from leadflow.context import open_context
    from leadflow.errors import LeadflowError
    from leadflow.report import attribution, page
    start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    known = parse_date(as_of, "--as-of")
    if start and end and start > end:
        raise LeadflowError(f"--from {start} is after --to {end}")
    ctx = open_context(config, known or (end if end and end > date.today() else None), job="cli.report")
    counts, data = page.build_with_data(ctx, start, end, known)

    by_channel = data["derived"]["funnel_by_channel"]
    perf = data["marts"]["campaign_performance"]
    spend = perf.groupby("channel")["spend"].sum()
    revenue = perf.groupby("channel")["revenue"].sum()
    t = Table(title=f"Funnel by channel, leads created {counts['window']}, outcomes known by {counts['as_of']}")
    for col in ("channel", "leads", "MQLs", "SALs", "SQLs", "opps", "customers", "lead→MQL", "win rate",
                "spend", "revenue", "ROI"):
        t.add_column(col, justify="left" if col == "channel" else "right")
    for _, r in by_channel.iterrows():
        sp, rv = float(spend.get(r["channel"], 0.0)), float(revenue.get(r["channel"], 0.0))
        t.add_row(str(r["channel"]), _fmt(r["leads"]), _fmt(r["mqls"]), _fmt(r["sals"]), _fmt(r["sqls"]),
                  _fmt(r["opportunities"]), _fmt(r["customers"]), _fmt(r["mql_rate"], pct=True),
                  _fmt(r["win_rate"], pct=True), _fmt(sp, money=True), _fmt(rv, money=True),
                  _fmt((rv - sp) / sp if sp else None, pct=True))
    console.print(t)
    console.print("win rate = customers / opportunities; n/a where sales never reported the stage on its own; "
                  "(none) = no channel on the lead's first record")

    a = data["derived"]["attribution_by_channel"]
    if len(a):
        at = Table(title="Won revenue credited per channel, by attribution model")
        at.add_column("channel")
        for m in attribution.MODELS:
            at.add_column(m.replace("_", " "), justify="right")
        for _, r in a.iterrows():
            at.add_row(str(r["channel"]), *[_fmt(r.get(m, 0.0), money=True) for m in attribution.MODELS])
        console.print(at)
    stall = data["derived"]["stage_durations"]
    worst = stall[stall["still_in"] > 0].sort_values("still_in", ascending=False).head(3)
    if len(worst):
        console.print("Where leads stall: " + "; ".join(
            f"{r.stage} ({r.kind}): {int(r.still_in):,} waiting, median {r.median_days:.1f} days"
            if r.median_days == r.median_days else f"{r.stage} ({r.kind}): {int(r.still_in):,} waiting"
            for r in worst.itertuples()))
    console.print(f"won revenue in window: {counts['won_revenue']:,.2f} (every attribution model sums to it)")
    console.print(f"report: {counts['html']}")
    console.print(f"CSV extracts ({counts['csv_files']}): {counts['csv_dir']}")


@feedback_app.command("apply")
def cmd_apply(config: ConfigOpt = None,
              run_date: Annotated[str | None, typer.Option(
                  "--date", "-d", help="Run date YYYY-MM-DD (default: today)")] = None) -> None:
    """Load passed CRM outcomes: match to handoffs, quarantine the rest, move the lifecycle."""
    from leadflow.context import open_context
    from leadflow.feedback import apply_outcomes
    ctx = open_context(config, parse_date(run_date, "--date"), job="cli.feedback")
    c = apply_outcomes(ctx)
    console.print(f"outcomes: {c['rows']} read, {c['loaded']} loaded, {c['already_loaded']} already loaded, "
                  f"{c['quarantined']} quarantined; {c['handoffs_updated']} handoffs updated; "
                  f"transitions: {c['transitions'] or 'none'}")
    if c["quarantine_reasons"]:
        console.print(f"quarantine reasons: {c['quarantine_reasons']}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(report_app, name="report")
    app.add_typer(feedback_app, name="feedback")
