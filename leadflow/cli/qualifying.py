"""`leadflow qualify backtest`: recommend the MQL threshold from sales capacity (changes nothing)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt, open_warehouse, parse_date

console = Console()
qualify_app = typer.Typer(help="Qualification: who becomes an MQL.", no_args_is_help=True)


@qualify_app.command("backtest")
def cmd_backtest(
    capacity: Annotated[float, typer.Option("--capacity", help="New MQLs sales can take (see --per)")],
    config: ConfigOpt = None,
    per: Annotated[str, typer.Option("--per", help="day (whole team) or rep (x reps configured)")] = "day",
    weeks: Annotated[int, typer.Option("--weeks", help="Replay this many weeks of scores", min=1)] = 8,
    by: Annotated[str, typer.Option("--by", help="score (rule score, min_score) or probability")] = "score",
    run_date: Annotated[str | None, typer.Option(
        "--date", "-d", help="Window ends before this day (default: today)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
) -> None:
    """Replay the last K weeks of scores and outcomes; recommend the threshold that fills capacity."""
    from datetime import date

    from leadflow.errors import LeadflowError
    from leadflow.qualify.backtest import backtest
    if per not in ("day", "rep"):
        raise LeadflowError(f"--per: {per!r} is not one of day, rep")
    if by not in ("score", "probability"):
        raise LeadflowError(f"--by: {by!r} is not one of score, probability")
    if capacity <= 0:
        raise LeadflowError("--capacity must be above 0")
    settings, eng = open_warehouse(config)
    end = parse_date(run_date) or date.today()
    out = backtest(settings, eng, end, capacity=capacity, per=per, weeks=weeks, by=by)  # type: ignore[arg-type]
    if as_json:
        console.print_json(json.dumps(out))
        return
    t = Table(title=f"{by} threshold, {out['window'][0]}..{out['window'][1]} ({out['days']} days, "
                    f"capacity {out['capacity_per_day']:g} MQLs/day)")
    for c in ("", "threshold", "MQLs", "MQLs/day", "busiest day", "expected wins",
              "wins captured", "wins below line"):
        t.add_column(c)
    for name in ("current", "recommended"):
        r = out[name]
        if r is None:
            continue
        t.add_row(name, f"{r['threshold']:g}", str(r["mqls"]), str(r["mqls_per_day"]),
                  str(r["busiest_day"]), str(r["expected_wins"] if r["expected_wins"] is not None else "-"),
                  str(r["wins_captured"]), str(r["wins_below_line"]))
    console.print(t)
    for name in ("current", "recommended"):
        r = out[name]
        if r is not None:
            console.print(f"{name} threshold {r['threshold']:g}: {r['mqls_per_day']} MQLs/day "
                          f"(busiest day {r['busiest_day']}), wins captured {r['wins_captured']}"
                          + (f" (expected {r['expected_wins']})" if r["expected_wins"] is not None else "")
                          + f", wins below the line {r['wins_below_line']}", soft_wrap=True)
    console.print(out["apply"] + " (nothing has been changed)", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the qualify command group to the main app."""
    app.add_typer(qualify_app, name="qualify")
