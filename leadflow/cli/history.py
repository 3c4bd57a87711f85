"""``leadflow backfill``: load history by replaying dated deliveries day by day."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadflow.cli.core import ConfigOpt, console, parse_date


def cmd_backfill(
        start: Annotated[str, typer.Option("--from", help="First day to replay, YYYY-MM-DD")],
        end: Annotated[str, typer.Option("--to", help="Last day to replay, YYYY-MM-DD")],
        config: ConfigOpt = None,
        steps: Annotated[str | None, typer.Option(
            "--steps", help="Comma-separated steps per day (default: ingest,quality,load,score,queue,"
                            "feedback; deliver, push_crm, data_docs and report are left out)")] = None,
        every_day: Annotated[bool, typer.Option(
            "--every-day", help="Run every day of the range, not only the days with dated deliveries")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line")] = False) -> None:
    """Replay dated deliveries from --from to --to, one run per day, in order (docs/operations.md)."""
    from leadflow import pipeline
    from leadflow.cli.core import open_warehouse
    settings, eng = open_warehouse(config)
    d1, d2 = parse_date(start, "--from"), parse_date(end, "--to")
    names = [s.strip() for s in steps.split(",") if s.strip()] if steps else None

    def show(day: Any, res: dict[str, dict[str, Any]]) -> None:
        if quiet:
            return
        ing = res.get("ingest", {})
        q = res.get("queue", {})
        fb = res.get("feedback", {})
        console.print(f"{day}  rows in {ing.get('rows_in', 0)}  handed off {q.get('handed_off', 0)}  "
                      f"outcomes loaded {fb.get('loaded', 0)}  quarantined {fb.get('quarantined', 0)}")

    done = pipeline.backfill(settings, eng, d1, d2, names, on_day=show, every_day=every_day)
    console.print(f"backfill {d1} .. {d2}: {len(done)} day(s) replayed")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("backfill")(cmd_backfill)
