"""CLI for the CRM push: ``leadflow crm push [--destination NAME] [--date D]`` and ``leadflow crm status``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from leadflow.cli.core import ConfigOpt, DateOpt, console, open_warehouse, parse_date

crm_app = typer.Typer(help="Push handoffs to CRMs (HubSpot, Salesforce) and see what happened.",
                      no_args_is_help=True)


@crm_app.command("push")
def cmd_crm_push(
    config: ConfigOpt = None,
    run_date: DateOpt = None,
    destination: Annotated[str | None, typer.Option(
        "--destination", help="Only this destination (even if disabled; default: every enabled one)")] = None,
) -> None:
    """Push the run date's handoffs (and due withdrawals) through the CRM outbox; a re-run sends nothing new."""
    from leadflow.context import open_context
    from leadflow.crm import push
    from leadflow.monitor import run_step
    ctx = open_context(config, parse_date(run_date), job="cli.crm")
    if destination:
        ctx.settings.crm_destination(destination)   # one-line error for an unknown name
    out = run_step(ctx, "push_crm", lambda c: push(c, destination))
    if not out.get("destinations"):
        console.print("no CRM destination enabled (crm.destinations in leadflow.yaml)")
        return
    for name, c in out["destinations"].items():
        console.print(f"{name}: {c.get('pushed', 0)} pushed ({c.get('created', 0)} created), "
                      f"{c.get('withdrawn', 0)} withdrawn, "
                      + (f"{c.get('tasks', 0)} owner task(s), " if "tasks_enqueued" in c else "")
                      + f"{c.get('rejected', 0)} rejected, "
                      f"{c.get('failed', 0)} failed; {c.get('requests', 0)} request(s), "
                      f"{c.get('throttled', 0)} throttled", highlight=False)
    for w in out.get("warnings", []):
        console.print(f"[yellow]warning[/yellow] {w}")


def print_status(eng: Any, errors: int = 10) -> bool:
    """The outbox per destination, action and status, and the latest rejected/failed records."""
    from leadflow.store import crm_outbox
    counts, errs = crm_outbox.summary(eng, errors)
    if counts.empty:
        return False
    wide = counts.pivot_table(index=["destination", "action"], columns="status", values="rows",
                              aggfunc="sum", fill_value=0)
    cols = [c for c in ("pushed", "pending", "sending", "failed", "rejected", "cancelled") if c in wide.columns]
    t = Table(title="CRM outbox")
    for c in ("destination", "action", *cols):
        t.add_column(c)
    for (dest, action), r in wide.iterrows():
        t.add_row(str(dest), str(action), *[str(int(r[c])) for c in cols])
    console.print(t)
    if not errs.empty:
        e = Table(title="CRM records not pushed (latest)")
        for c in ("destination", "action", "handoff", "person", "status", "attempts", "error"):
            e.add_column(c, overflow="fold")
        for r in errs.itertuples(index=False):
            e.add_row(r.destination, r.action, str(r.handoff_id), str(r.person_id), r.status,
                      str(r.attempts), str(r.error or ""))
        console.print(e)
    return True


@crm_app.command("status")
def cmd_crm_status(config: ConfigOpt = None,
                   errors: Annotated[int, typer.Option(help="How many failed/rejected rows to list")] = 10) -> None:
    """What each destination received: pushed, pending, failed, rejected (with the CRM's reason)."""
    settings, eng = open_warehouse(config)
    if not print_status(eng, errors):
        console.print("nothing pushed to a CRM yet: try `leadflow crm push --date YYYY-MM-DD`")


def register(app: typer.Typer) -> None:
    app.add_typer(crm_app, name="crm")
