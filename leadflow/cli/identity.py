"""``leadflow people ...``: show a person, unmerge, work the match review list, erase, export.

``show`` is an operator's view of one person and prints their details; ``export`` prints (or
writes) everything held about them, which is its purpose; ``erase`` prints ids and counts per
table and file only (no PII), as do review lists (person ids, score, evidence).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt

people_app = typer.Typer(help="People: show, unmerge, review uncertain matches, erase, export, release an opt-out.",
                         no_args_is_help=True)
console = Console()


def _ctx(config: str | None):
    from leadflow.context import open_context
    return open_context(config, job="cli.people")


def _now() -> datetime:
    """A person's action happens now (naive UTC); pipeline stages use the run's logical time."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@people_app.command("show")
def cmd_show(person_id: int, config: ConfigOpt = None) -> None:
    """Show a person's golden record, the records that formed it (rule, score), merges, reviews."""
    from leadflow.identity import ops
    ctx = _ctx(config)
    info = ops.show(ctx.engine, person_id)
    p = info["person"]
    t = Table(title=f"person {person_id}", show_header=False)
    for k, v in p.items():
        if v is not None and k != "attributes":
            t.add_row(k, str(v))
    console.print(t)
    r = Table(title="records (merge history)")
    for c in ("record_id", "source", "batch_id", "row_number", "match_rule", "match_score"):
        r.add_column(c)
    for row in info["records"].itertuples(index=False):
        r.add_row(*[("" if v is None or v != v else (f"{v:.3f}" if isinstance(v, float) else str(v)))
                    for v in row])
    console.print(r)
    for row in info["merges"].itertuples(index=False):
        console.print(f"merge {row.merge_id}: person {row.merged_id} into {row.survivor_id} by {row.rule}"
                      f"{' (undone)' if row.undone_at is not None and row.undone_at == row.undone_at else ''}")
    for row in info["reviews"].itertuples(index=False):
        console.print(f"review {row.review_id}: {row.person_a} ~ {row.person_b} score {row.score:.3f} [{row.status}]")
    console.print(f"touches: {info['touches']}")


@people_app.command("unmerge")
def cmd_unmerge(person_id: int,
                record: Annotated[int | None, typer.Option("--record", help="Only split off this "
                                                              "record (and records with its address)")] = None,
                config: ConfigOpt = None) -> None:
    """Restore a person's records into separate people (remembered: they will not re-merge)."""
    from leadflow.identity import ops
    out = ops.unmerge(_ctx(config), person_id, record, at=_now())
    console.print(f"person {person_id}: {out['records_moved']} record(s) moved to new person(s) "
                  f"{', '.join(map(str, out['new_person_ids']))}")


@people_app.command("review")
def cmd_review(action: Annotated[str, typer.Argument(help="list | merge | reject")] = "list",
               review_id: Annotated[int | None, typer.Argument(help="review id (merge/reject)")] = None,
               status: Annotated[str, typer.Option("--status", help="list: open | merged | rejected")] = "open",
               config: ConfigOpt = None) -> None:
    """Work the list of uncertain matches: list them, merge a pair, or reject it for good."""
    from leadflow.errors import LeadflowError
    from leadflow.identity import ops
    ctx = _ctx(config)
    if action == "list":
        df = ops.review_list(ctx.engine, status)
        t = Table(title=f"match reviews ({status}): {len(df)}")
        for c in ("review_id", "person_a", "person_b", "score", "evidence"):
            t.add_column(c)
        for row in df.itertuples(index=False):
            ev = row.evidence.get("rule") if isinstance(row.evidence, dict) else ""
            t.add_row(str(row.review_id), str(row.person_a), str(row.person_b), f"{row.score:.3f}", str(ev))
        console.print(t)
        return
    if action not in ("merge", "reject"):
        raise LeadflowError(f"people review: unknown action {action!r} (list, merge, reject)")
    if review_id is None:
        raise LeadflowError(f"people review {action}: give the review id")
    if action == "merge":
        out = ops.review_merge(ctx, review_id, at=_now())
        console.print(f"review {review_id}: person {out['merged_id']} merged into {out['survivor_id']}")
    else:
        ops.review_reject(ctx, review_id, at=_now())
        console.print(f"review {review_id}: rejected (the pair will not be proposed or merged again)")


@people_app.command("erase")
def cmd_erase(email: Annotated[str, typer.Option("--email", help="The address of the person to erase")],
              config: ConfigOpt = None) -> None:
    """Right to erasure: remove the person from every table, list and extract; block re-entry."""
    from leadflow.privacy.hashing import uses_demo_key
    ctx = _ctx(config)
    from leadflow.privacy import erase as privacy_erase
    out = privacy_erase.erase(ctx, email, at=_now())
    ids = ", ".join(map(str, out["person_ids"])) or "none"
    console.print(f"erased person id(s): {ids}; identifiers added to the tombstone list")
    if uses_demo_key(ctx.settings):
        console.print(f"warning: ${ctx.settings.privacy.hash_key_env} is not set; the tombstone used the "
                      "demo hashing key (set your own before production, then never change it)")
    for table, n in sorted(out["tables"].items()):
        console.print(f"  {table}: {n}", highlight=False, soft_wrap=True)
    for path, what in sorted(out["files"].items()):
        console.print(f"  {path}: {what}", highlight=False, soft_wrap=True)


@people_app.command("export")
def cmd_export(email: Annotated[str, typer.Option("--email", help="The address of the person")],
               out: Annotated[str | None, typer.Option("--out", help="Write the JSON to this file "
                                                          "(default: standard output)")] = None,
               config: ConfigOpt = None) -> None:
    """Subject access request: everything held about a person, as JSON, from every table."""
    from pathlib import Path

    from leadflow.privacy import export
    doc = export.export(_ctx(config), email)
    text = export.dumps(doc)
    if out is None:
        typer.echo(text)
        return
    Path(out).write_text(text + "\n", encoding="utf-8")
    n = sum(len(v) for v in doc["tables"].values())
    console.print(f"wrote {n} row(s) of person id(s) {', '.join(map(str, doc['person_ids'])) or 'none'} "
                  f"to {out}", highlight=False, soft_wrap=True)


@people_app.command("release-opt-out")
def cmd_release_opt_out(email: Annotated[str, typer.Option("--email", help="The address to release")],
                        by: Annotated[str, typer.Option("--by", help="Who decided")],
                        note: Annotated[str, typer.Option("--note", help="Why contact is allowed again")],
                        config: ConfigOpt = None) -> None:
    """A person decided an address may be contacted again: release its opt-out signals
    (``contact_blocks``) seen on rejected or quarantined records. Prints a count only."""
    import pandas as pd

    from leadflow.store import contact_blocks
    from leadflow.vocab.emails import normalise_address
    norm = normalise_address(pd.Series([email], dtype=object)).iloc[0]
    if pd.isna(norm):
        console.print("not a readable address; nothing released")
        raise typer.Exit(2)
    with _ctx(config).engine.begin() as conn:
        n = contact_blocks.release(conn, str(norm), by, note, _now())
    console.print(f"released {n} opt-out signal(s)")


def register(app: typer.Typer) -> None:
    """Add the ``people`` command group to the main app."""
    app.add_typer(people_app, name="people")
