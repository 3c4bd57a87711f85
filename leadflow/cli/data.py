"""Data commands: `leadflow sources check` and `leadflow ingest` (registered by leadflow.cli)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from leadflow.cli.core import ConfigOpt, DateOpt, parse_date

console = Console()
err = Console(stderr=True)
sources_app = typer.Typer(help="The source registry (campaign imports and inbound lead sources).",
                          no_args_is_help=True)


@sources_app.command("check")
def cmd_sources_check(config: ConfigOpt = None) -> None:
    """Validate the registry; show each source, its connector, mapping coverage and next run."""
    from leadflow import config as cfg
    from leadflow.ingest import registry
    settings = cfg.load(config)      # a ConfigError here names the file and the field
    from leadflow.quality.suites import SUITE_KINDS, load_suite
    for kind in SUITE_KINDS:         # GX builds every expectation: a bad one is a one-line error
        load_suite(kind)
    if not settings.sources:
        console.print(f"{settings.config_path}: no sources registered")
        return
    checks = registry.check(settings, datetime.now(UTC).replace(tzinfo=None))
    t = Table(title=f"sources in {settings.config_path}")
    for col in ("source", "kind", "owner", "connector", "mapped fields", "columns present", "next run (UTC)",
                "problems"):
        t.add_column(col, overflow="fold")
    for c in checks:
        t.add_row(c.name + ("" if c.enabled else " (disabled)"), c.kind, c.owner, c.connector,
                  f"{c.mapped}/{c.canonical}", c.columns_present,
                  c.next_run.strftime("%Y-%m-%d %H:%M") if c.next_run else "manual",
                  "; ".join(c.problems) or "ok")
    console.print(t)
    bad = [c for c in checks if c.problems]
    if bad:
        from leadflow.errors import ConfigError
        for c in bad[:-1]:
            err.print(f"error: source {c.name}: {'; '.join(c.problems)}", markup=False, soft_wrap=True)
        last = bad[-1]
        raise ConfigError(f"source {last.name}: {'; '.join(last.problems)}")
    console.print(f"{len(checks)} source(s) valid")


def cmd_ingest(config: ConfigOpt = None, run_date: DateOpt = None,
               source: Annotated[list[str] | None, typer.Option(
                   "--source", "-s", help="Source name (repeatable)")] = None,
               all_: Annotated[bool, typer.Option("--all", help="Every enabled source")] = False) -> None:
    """Run imports now: land each source's new deliveries (with a progress bar)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from leadflow import ingest
    from leadflow.context import open_context
    from leadflow.errors import LeadflowError
    if not source and not all_:
        raise LeadflowError("say which sources: --source NAME (repeatable) or --all")
    ctx = open_context(config, parse_date(run_date), job="cli.ingest")
    names = None if all_ else list(source or [])
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, n: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=None)
            bar.advance(tasks[name], n)

        results = ingest.land(ctx, names, progress=progress)
    t = Table(title=f"ingest {ctx.run_date}")
    for col in ("source", "delivery", "batch", "status", "rows in", "landed", "rejected"):
        t.add_column(col, justify="right" if col in ("batch", "rows in", "landed", "rejected") else "left")
    for r in results:
        t.add_row(r["source"], str(r["uri"]), str(r["batch_id"] or ""), r["status"], f"{r['rows_in']:,}",
                  f"{r['rows_landed']:,}", f"{r['rows_rejected']:,}")
    console.print(t)
    s = ingest.summarise(results)
    console.print(f"rows in {s['rows_in']:,} = landed {s['rows_landed']:,} + rejected {s['rows_rejected']:,}; "
                  f"{s['batches']} batch(es), {s['duplicates']} already landed, {s['waiting']} waiting, "
                  f"{s['failed']} failed" + (f", {s['refused']} refused" if s["refused"] else ""), soft_wrap=True)
    for r in results:
        if r.get("note") and r["status"] == "landed":   # rejects, or a cut last line
            console.print(f"note: {r['note']}", markup=False, soft_wrap=True)
    for w in s["warnings"]:
        if w not in s["errors"]:        # e.g. a link found in failed/ and left alone
            err.print(f"warning: {w}", markup=False, soft_wrap=True)
    for e in s["errors"][:-1]:
        err.print(f"error: {e}", markup=False, soft_wrap=True)
    if s["errors"]:
        from leadflow.errors import InputError
        raise InputError(s["errors"][-1])


def register(app: typer.Typer) -> None:
    """Add `sources ...` and `ingest` to the main app."""
    app.add_typer(sources_app, name="sources")
    app.command("ingest")(cmd_ingest)
