"""CLI for data quality: ``leadflow quarantine ...`` and ``leadflow quality report``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import open_warehouse

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Path to leadflow.yaml "
                                                   "(default: $LEADFLOW_CONFIG or ./leadflow.yaml)")]
IdsArg = Annotated[list[int], typer.Argument(help="Quarantine entry id(s)")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="field=value to change before "
                                                     "re-validating (repeatable; field= clears)")]

console = Console()
quarantine_app = typer.Typer(help="Work the quarantine: rows set aside with the expectations they failed.",
                             no_args_is_help=True)
quality_app = typer.Typer(help="Data quality: Great Expectations suites and Data Docs.", no_args_is_help=True)


def _open(config: str | None):
    settings, eng = open_warehouse(config)
    return settings, eng


@quarantine_app.command("list")
def cmd_list(config: ConfigOpt = None,
             source: Annotated[str | None, typer.Option(help="Only this source")] = None,
             status: Annotated[str, typer.Option(help="open | released | discarded | all")] = "open",
             kind: Annotated[str | None, typer.Option(help="Only this dataset kind")] = None,
             limit: Annotated[int, typer.Option(help="At most this many entries")] = 200) -> None:
    """List quarantine entries (newest first) with their reasons; no record values shown."""
    from leadflow.quality import quarantine as qr
    _, eng = _open(config)
    df = qr.list_entries(eng, source, None if status == "all" else status, kind, limit)
    if df.empty:
        console.print("quarantine is empty" + (f" for status {status}" if status != "all" else ""))
        return
    t = Table(title=f"quarantine ({len(df)} shown)")
    for c in ("id", "source", "kind", "batch", "row", "stage", "status", "reasons"):
        t.add_column(c)
    for r in df.itertuples(index=False):
        t.add_row(str(r.quarantine_id), r.source, r.kind, str(r.batch_id), str(r.row_number), r.stage,
                  r.status, ", ".join(map(str, r.reasons or []))[:120])
    console.print(t)


@quarantine_app.command("show")
def cmd_show(qid: Annotated[int, typer.Argument(help="Quarantine entry id")], config: ConfigOpt = None) -> None:
    """Show one entry: the original record, its reasons and how it was resolved."""
    from leadflow.quality import quarantine as qr
    from leadflow.quality.suites import load_suite
    _, eng = _open(config)
    e = qr.get(eng, qid)
    typer.echo(json.dumps(e, indent=2, default=str, ensure_ascii=False))
    if e["stage"] == "quality":
        suite = load_suite(e["kind"])
        for r in e["reasons"] or []:
            try:
                typer.echo(f"  {r}: {suite.check(r).why}")
            except KeyError:
                typer.echo(f"  {r}: value could not be read as the field's type" if r.endswith("_type") else f"  {r}")


@quarantine_app.command("edit")
def cmd_edit(qid: Annotated[int, typer.Argument(help="Quarantine entry id")],
             changes: Annotated[list[str], typer.Argument(help="field=value pairs")],
             config: ConfigOpt = None,
             by: Annotated[str | None, typer.Option("--by", help="Who edits")] = None) -> None:
    """Fix fields of an open entry's record (it is validated again on release)."""
    from leadflow.quality import quarantine as qr
    _, eng = _open(config)
    qr.edit(eng, qid, qr.parse_changes(changes), by)
    console.print(f"entry {qid}: edited {', '.join(sorted(qr.parse_changes(changes)))}; "
                  f"release it to re-validate")


@quarantine_app.command("release")
def cmd_release(ids: IdsArg, config: ConfigOpt = None,
                by: Annotated[str, typer.Option("--by", help="Who releases")] = "cli",
                set_: SetOpt = None) -> None:
    """Re-validate entries; passing rows go on to the next run, failing ones stay with new reasons."""
    from leadflow.errors import LeadflowError
    from leadflow.quality import quarantine as qr
    settings, eng = _open(config)
    res = qr.release(eng, settings, ids, by, qr.parse_changes(set_))
    if res["released"]:
        console.print(f"released: {', '.join(map(str, res['released']))} (processed by the next run)")
    for qid, why in res["still_failing"].items():
        console.print(f"still failing: {qid}: {', '.join(map(str, why))}")
    if res["still_failing"] and not res["released"]:
        raise LeadflowError(f"{len(res['still_failing'])} entr{'y' if len(res['still_failing']) == 1 else 'ies'} "
                            "still failing; kept in quarantine with the new reasons")


@quarantine_app.command("discard")
def cmd_discard(ids: IdsArg, config: ConfigOpt = None,
                by: Annotated[str, typer.Option("--by", help="Who discards (kept on record)")] = ...,  # type: ignore[assignment]
                why: Annotated[str, typer.Option("--why", help="Why (kept on record)")] = ...  # type: ignore[assignment]
                ) -> None:
    """Close entries for good; the record is kept with who and why."""
    from leadflow.quality import quarantine as qr
    _, eng = _open(config)
    n = qr.discard(eng, ids, by, why)
    console.print(f"discarded {n} entr{'y' if n == 1 else 'ies'}")


@quality_app.command("report")
def cmd_report(config: ConfigOpt = None,
               open_: Annotated[bool, typer.Option("--open", help="Open it in a browser")] = False) -> None:
    """Print where the last run's Great Expectations Data Docs are (and open them)."""
    from leadflow import config as cfg
    from leadflow.errors import LeadflowError
    settings = cfg.load(config)
    index = settings.reports_dir / "data_docs" / "index.html"
    if not index.is_file():
        raise LeadflowError(f"no Data Docs at {index} yet: run the quality step, then "
                            "`leadflow quality docs` (the daily run's data_docs step builds them)")
    typer.echo(str(index))
    if open_:
        import webbrowser
        webbrowser.open(index.as_uri())


@quality_app.command("docs")
def cmd_docs(config: ConfigOpt = None,
             run_id: Annotated[str | None, typer.Option("--run", help="Only this run's results")] = None) -> None:
    """Build the Data Docs from the GX results the quality step kept; prints the index path."""
    from leadflow import config as cfg
    from leadflow.quality import docs
    settings = cfg.load(config)
    typer.echo(str(docs.build(settings.reports_dir, run_id)))


@quality_app.command("check")
def cmd_check(config: ConfigOpt = None,
              date_: Annotated[str | None, typer.Option("--date", "-d", help="Run date YYYY-MM-DD")] = None,
              docs: Annotated[bool, typer.Option(help="Build Data Docs")] = True) -> None:
    """Run the quality step alone: validate every landed staging row."""
    from leadflow.cli.core import parse_date
    from leadflow.context import open_context
    from leadflow.monitor import run_step
    from leadflow.quality.run import validate_all
    ctx = open_context(config, parse_date(date_), job="cli.quality")
    res = run_step(ctx, "quality", lambda c: validate_all(c, docs=docs))
    console.print(f"rows {res['rows']}: passed {res['passed']}, quarantined {res['quarantined']}")
    for w in res.get("warnings", []):
        console.print(f"warning: {w}")
    if res.get("gx_results"):
        console.print(f"GX results: {res['gx_results']} (Data Docs: `leadflow quality docs`)")


def register(app: typer.Typer) -> None:
    """Add ``quarantine`` and ``quality`` command groups to the main app."""
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(quality_app, name="quality")
