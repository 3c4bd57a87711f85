"""Core commands: init, run, status, summary, demo-data."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, overload

import typer
from rich.console import Console
from rich.table import Table

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Path to leadflow.yaml "
                                                   "(default: $LEADFLOW_CONFIG or ./leadflow.yaml)")]
DateOpt = Annotated[str | None, typer.Option("--date", "-d", help="Run date YYYY-MM-DD (default: today)")]

# Wide enough for the status table when output goes to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 150)


@overload
def parse_date(value: str, opt: str = ...) -> date: ...
@overload
def parse_date(value: str | None, opt: str = ...) -> date | None: ...
def parse_date(value: str | None, opt: str = "--date") -> date | None:
    """Parse a YYYY-MM-DD option, with a one-line error naming the option and the value."""
    from leadflow.errors import LeadflowError
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise LeadflowError(f"{opt}: {value!r} is not a date in YYYY-MM-DD form") from None


def cmd_init(config: ConfigOpt = None) -> None:
    """Create the warehouse or upgrade its schema to this version (idempotent), and the folders."""
    from leadflow import config as cfg
    from leadflow.store import db, migrations
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.check(eng)
    before = migrations.current(eng)
    tables = db.init(eng)
    for d in (settings.data_dir, settings.reports_dir, settings.lists_dir):
        d.mkdir(parents=True, exist_ok=True)
    after = migrations.current(eng)
    change = (f"upgraded from revision {before} to {after}" if before and before != after
              else f"at revision {after}")
    console.print(f"warehouse ready: {len(tables)} tables, schema {change}, at "
                  f"{eng.url.render_as_string(hide_password=True)}")


def cmd_run(config: ConfigOpt = None, run_date: DateOpt = None,
            steps: Annotated[str | None, typer.Option(
                "--steps", help="Comma-separated steps (default: all): ingest,quality,load,score,"
                                "queue,deliver,push_crm,feedback,report")] = None) -> None:
    """Run the daily pipeline for one date, from ingest to the lead lists and the report."""
    from leadflow import pipeline
    from leadflow.context import open_context
    from leadflow.errors import LeadflowError
    ctx = open_context(config, parse_date(run_date), job="cli.run")
    all_steps = pipeline.DAILY_STEPS + pipeline.FEEDBACK_STEPS
    chosen = all_steps
    if steps:
        names = [s.strip() for s in steps.split(",") if s.strip()]
        known = {n for n, _ in all_steps}
        bad = [n for n in names if n not in known]
        if bad:
            raise LeadflowError(f"--steps: unknown step(s) {', '.join(bad)}; "
                                f"known: {', '.join(n for n, _ in all_steps)}")
        chosen = [(n, f) for n, f in all_steps if n in names]
    results = pipeline.run_steps(ctx, chosen)
    print_summary(ctx.engine, ctx.settings, ctx.run_date, results)


def cmd_status(config: ConfigOpt = None,
               limit: Annotated[int, typer.Option(help="How many runs to show")] = 10) -> None:
    """Show the last runs, their step counts, quality results and SLA breaches."""
    from leadflow import config as cfg
    from leadflow.status import status_rows
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    runs, extra = status_rows(eng, limit)
    if not runs:
        console.print("no runs yet: try `leadflow run --date YYYY-MM-DD`")
        return
    t = Table(title="last runs")
    for col in ("run", "date", "steps", "status", "read", "quarantined", "created", "merged",
                "mql", "handed off", "suppressed"):
        t.add_column(col)
    for r in runs:
        t.add_row(*[str(r.get(k, "")) for k in ("run_id", "run_date", "steps", "status", "read",
                                                  "quarantined", "created", "merged", "mql",
                                                  "handed_off", "suppressed")])
    console.print(t)
    console.print(f"open quarantine rows: {extra['quarantine_open']}   "
                  f"SLA breaches (handoffs past due): {extra['sla_breached']}   "
                  f"DAG deadlines missed: {extra['deadlines_missed']}")
    from leadflow.status import quality_by_source
    q = quality_by_source(eng)
    if q:
        qt = Table(title="quality, latest steps")
        for col in ("run", "source", "rows", "passed", "quarantined", "most failed expectations"):
            qt.add_column(col)
        for r in q:
            qt.add_row(r["run_id"], r["source"], str(r["rows"]), str(r["passed"]),
                       str(r["quarantined"]), r["top_failures"])
        console.print(qt)
    _print_intraday(eng)
    from leadflow.cli.crm import print_status as crm_status
    crm_status(eng, errors=5)
    for w in extra["warnings"]:
        console.print(f"[yellow]warning[/yellow] {w}")


def _print_intraday(eng: Any) -> None:
    """The speed-to-lead passes (events and sweeps), when there are any."""
    from leadflow.status import intraday_rows
    rows, total = intraday_rows(eng)
    if not rows:
        return
    cols = ("run_id", "status", "seconds", "landed_batches", "passed", "quarantined", "handed_off",
            "suppressed", "sent", "failed")
    t = Table(title="speed to lead, latest passes")
    for col in cols:
        t.add_column(col.replace("_", " "))
    for r in rows:
        t.add_row(*[str(r.get(k, "")) for k in cols])
    console.print(t)
    console.print(f"speed to lead, last 24 h: {total['passes']} passes ({total['failed_passes']} failed), "
                  f"{total['handed_off']} handed off, {total['sent']} notifications sent, "
                  f"{total['failed']} failed")


def cmd_summary(config: ConfigOpt = None, run_date: DateOpt = None) -> None:
    """Print the summary of one run date (counts, handoffs per rep, lead list paths)."""
    from leadflow import config as cfg
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    d = parse_date(run_date) or date.today()
    print_summary(eng, settings, d, None)


def cmd_demo_data(
    leads: Annotated[int, typer.Option(help="How many lead records to generate")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 42,
    out: Annotated[Path, typer.Option(help="Output folder (landing/ and truth/ go under it)")] = Path("data"),
    days: Annotated[int, typer.Option(help="How many days of deliveries")] = 7,
    end_date: Annotated[str, typer.Option("--end-date", help="Last delivery day")] = "2026-11-26",
) -> None:
    """Generate deterministic demo data: leads, touches, campaign spend and hidden truth."""
    from leadflow import demo
    from leadflow.errors import LeadflowError
    if leads < 1 or days < 1:
        raise LeadflowError("--leads and --days must be at least 1")
    result = demo.generate(out, leads=leads, seed=seed, days=days, end_date=parse_date(end_date))
    shown = {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
    console.print(f"demo data written under {out}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))


def cmd_demo_outcomes(
    config: ConfigOpt = None,
    as_of: Annotated[str, typer.Option("--as-of", help="Simulate the sales team's work up to this day")] = "2026-12-10",
    out: Annotated[Path, typer.Option(help="The demo data folder (holds truth/ and landing/)")] = Path("data"),
    seed: Annotated[int, typer.Option(help="Random seed")] = 42,
) -> None:
    """Play the sales team: CRM outcomes for today's handoffs, drawn from the demo's hidden truth.

    Writes landing/crm/outcomes_<as-of>.csv for the `crm` source; then
    `leadflow run --date <as-of> --steps ingest,quality,feedback,report` closes the loop.
    """
    from datetime import datetime, time

    from leadflow import config as cfg
    from leadflow.demo import crm
    from leadflow.errors import LeadflowError
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    if not (out / "truth").is_dir():
        raise LeadflowError(f"{out / 'truth'}: no demo truth here; run `leadflow demo-data --out {out}` first")
    d = parse_date(as_of)
    h = crm.handoffs_frame(eng)
    outcomes = crm.simulate_outcomes(h, out / "truth", datetime.combine(d, time.max), seed=seed)
    path = crm.write_outcomes(outcomes, out, None) if len(outcomes) else None
    console.print(f"{len(outcomes)} CRM outcome rows for {len(h)} handoffs"
                  + (f" written to {path}" if path else ""))


def print_summary(eng: Any, settings: Any, run_date: date, results: dict[str, Any] | None) -> None:
    """The end-of-run summary a person reads: the funnel of today's rows and handoffs."""
    from leadflow.status import run_summary
    s = run_summary(eng, settings, run_date)
    console.print(f"[bold]leadflow run {run_date}[/bold]")
    console.print(f"  rows read        {s['rows_read']}  "
                  f"(landed {s['rows_landed']}, rejected at ingest {s['rows_rejected']})")
    console.print(f"  quarantined      {s['quarantined']}  (still open {s['quarantine_open']}, "
                  f"discarded {s['discarded']})")
    console.print(f"  suppressed rows  {s['rows_suppressed']}")
    console.print(f"  leads created    {s['people_created']}   merged into existing {s['records_merged']}")
    console.print(f"  MQLs             {s['mql']}   suppressed at handoff {s['suppressed']}")
    console.print(f"  handed off       {s['handed_off']}")
    for rep, n in s["per_rep"].items():
        console.print(f"    {rep:<20} {n}")
    console.print(f"  lead lists       {s['lists_dir']}")
    fb = (results or {}).get("feedback")
    if fb:
        console.print(f"  outcomes loaded  {fb.get('loaded', 0)}   quarantined {fb.get('quarantined', 0)}   "
                      f"lifecycle moves {fb.get('transitions', {})}")
    rep = (results or {}).get("report")
    if rep and rep.get("html"):
        console.print(f"  marketing report {rep['html']}")
    if results:
        failed = [k for k, v in results.items() if isinstance(v, dict) and v.get("warnings")]
        for k in failed:
            for w in results[k]["warnings"]:
                console.print(f"  [yellow]warning[/yellow] {k}: {w}")


def register(app: typer.Typer) -> None:
    """Add the core commands to the main app."""
    app.command("init")(cmd_init)
    app.command("run")(cmd_run)
    app.command("status")(cmd_status)
    app.command("summary")(cmd_summary)
    app.command("demo-data")(cmd_demo_data)
    app.command("demo-outcomes")(cmd_demo_outcomes)


def open_warehouse(config: str | None) -> tuple[Any, Any]:
    """Settings and the warehouse engine for a command, refusing an out-of-date schema."""
    from leadflow import config as cfg
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    return settings, eng
