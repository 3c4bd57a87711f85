"""CLI for the sales queue: ``leadflow queue list`` and ``leadflow handoff explain HANDOFF_ID | --person ID``."""

from __future__ import annotations

import json
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt, open_warehouse, parse_date

console = Console()
queue_app = typer.Typer(help="The sales queue (handoffs).", no_args_is_help=True)
handoff_app = typer.Typer(help="Explain a handoff: why this lead, why this owner.", no_args_is_help=True)



@queue_app.command("list")
def cmd_queue_list(
    config: ConfigOpt = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this rep (or the fallback queue)")] = None,
    run_date: Annotated[str | None,
                        typer.Option("--date", "-d", help="Handoffs of this run date (default: all open)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table")] = False,
) -> None:
    """Show queued handoffs, highest priority first: name, company, owner, score and SLA (no email or phone)."""
    from leadflow.handoff.explain import queue_rows
    _settings, eng = open_warehouse(config)
    rows = queue_rows(eng, owner=owner, run_date=parse_date(run_date), limit=limit)
    if as_json:
        for r in rows.drop(columns=["first_name", "last_name", "company"]).to_dict("records"):
            typer.echo(json.dumps(r, default=str))
        return
    if rows.empty:
        console.print("the queue is empty for that selection")
        return
    name = (rows["first_name"].fillna("") + " " + rows["last_name"].fillna("")).str.strip()
    shown = pd.DataFrame({
        "handoff": rows["handoff_id"], "person": rows["person_id"], "name": name,
        "company": rows["company"].fillna(""), "date": rows["run_date"].astype(str),
        "owner": rows["owner_rep"], "rule": rows["route_rule"], "why": rows["qualified_by"],
        "grade": rows["grade"], "score": pd.to_numeric(rows["score"]).round(0).astype("Int64"),
        "prio": pd.to_numeric(rows["priority"]).round(0).astype("Int64"),
        "SLA due (UTC)": pd.to_datetime(rows["sla_due_at"], format="mixed").dt.strftime("%m-%d %H:%M"),
        "late": rows["sla_breached"].map(lambda b: "yes" if b else ""),
    })
    import sys

    from rich import box
    t = Table(title=f"sales queue ({len(rows)} shown)", box=box.SIMPLE_HEAD, pad_edge=False)
    for c in shown.columns:
        t.add_column(c, no_wrap=True, overflow="ellipsis")
    for r in shown.itertuples(index=False):
        t.add_row(*["" if v is None or v is pd.NA or v != v else str(v) for v in r])
    Console(width=None if sys.stdout.isatty() else 160).print(t)


@handoff_app.command("explain")
def cmd_handoff_explain(
    handoff_id: Annotated[int | None, typer.Argument(help="The handoff id (see `leadflow queue list`)")] = None,
    person: Annotated[int | None, typer.Option("--person", help="A person id instead: also says why "
                                                  "someone was not handed off")] = None,
    config: ConfigOpt = None,
) -> None:
    """Why this lead (score, grade, reasons, qualification rule), why this owner, and the SLA;
    for a person who was not handed off, which rule kept them out."""
    from leadflow.errors import LeadflowError
    from leadflow.handoff.explain import explain, person_of_handoff, render
    if (handoff_id is None) == (person is None):
        raise LeadflowError("handoff explain: give a handoff id or --person PERSON_ID (one of them)")
    settings, eng = open_warehouse(config)
    pid = person if person is not None else person_of_handoff(eng, int(handoff_id))  # type: ignore[arg-type]
    console.print(render(explain(eng, pid, settings)), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the queue and handoff command groups to the main app."""
    app.add_typer(queue_app, name="queue")
    app.add_typer(handoff_app, name="handoff")
