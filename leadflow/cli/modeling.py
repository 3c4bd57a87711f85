"""`leadflow model ...`: train, evaluate a lead file, list versions, promote one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt, parse_date

model_app = typer.Typer(help="The predictive lead-scoring model: train, evaluate, list, promote.",
                        no_args_is_help=True)
console = Console()



@model_app.command("train")
def cmd_train(config: ConfigOpt = None,
              run_date: Annotated[str | None, typer.Option("--date", "-d",
                                  help="Train on outcomes known by this date (default: today)")] = None,
              allow_leaky: Annotated[bool, typer.Option(
                  "--allow-leaky", help="Diagnostic only: include after-contact features")] = False,
              ) -> None:
    """Train on handoff outcomes; promote the model only if it beats the live one."""
    from leadflow.context import open_context
    from leadflow.score import train_model
    ctx = open_context(config, parse_date(run_date), job="cli.model_train")
    out = train_model(ctx, allow_leaky=allow_leaky)
    for w in out.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")
    console.print(out["message"])
    if out["status"] != "rules_only":
        console.print(f"examples {out['examples']}, conversions {out['conversions']}, "
                      f"algorithm {out['algorithm']}, holdout ROC AUC {out['roc_auc']} "
                      f"(baseline {out['baseline_roc_auc']})")


@model_app.command("evaluate")
def cmd_evaluate(data: Annotated[Path, typer.Option("--data", help="Lead file with an outcome column")],
                 source: Annotated[str, typer.Option("--source", help="Source definition to read it with")],
                 config: ConfigOpt = None,
                 allow_leaky: Annotated[bool, typer.Option(
                     "--allow-leaky", help="Include after-contact attributes (diagnostic)")] = False,
                 seed: Annotated[int, typer.Option(help="Seed of the random split (no time column)")] = 0,
                 algorithm: Annotated[list[str] | None, typer.Option(
                     "--algorithm", help="logistic and/or gradient_boosting (default: config)")] = None,
                 feature: Annotated[list[str] | None, typer.Option(
                     "--feature", help="Use only these columns (after-contact ones are refused)")] = None,
                 json_out: Annotated[Path | None, typer.Option("--json", help="Also write metrics as JSON")] = None,
                 ) -> None:
    """Judge the model on any lead file with outcomes; writes an HTML report."""
    from leadflow import config as cfg
    from leadflow.errors import InputError
    from leadflow.score import evaluate as ev
    from leadflow.score import report
    from leadflow.score.offline import evaluate_file
    settings = cfg.load(config)
    if not data.is_file():
        raise InputError(f"source {source}, file {data}: file not found")
    res = evaluate_file(settings, source, data, allow_leaky=allow_leaky, seed=seed,
                        algorithms=algorithm or None, features=feature or None)
    for w in res["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    if res["excluded_after_contact"]:
        console.print("excluded (known only after sales contact): "
                      + ", ".join(res["excluded_after_contact"]))
    t = Table(title=f"{source}: {res['rows']} rows, {res['conversions']} conversions, "
                    f"{res['split']} holdout of {res['holdout_rows']}")
    for c in ("algorithm", "ROC AUC", "PR AUC", "Brier", "lift top 10%", "calib. error"):
        t.add_column(c)
    for a, r in res["results"].items():
        t.add_row(a + (" *" if a == res["best"] else ""), str(r["roc_auc"]), str(r["pr_auc"]),
                  str(r["brier"]), str(r["lift_top_decile"]), str(r["calibration_error"]))
    console.print(t)
    path = report.write(res, settings.reports_dir, f"Model evaluation: {source} ({data.name})")
    console.print(f"report: {path}")
    if json_out:
        clean = {k: v for k, v in res.items() if not k.startswith("_")}
        json_out.write_text(json.dumps(clean, indent=2, default=str), encoding="utf-8")
    _ = ev


@model_app.command("list")
def cmd_list(config: ConfigOpt = None) -> None:
    """Model versions with their window, holdout metrics and status."""
    from leadflow import config as cfg
    from leadflow.score import registry
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    df = registry.list_models(eng)
    if df.empty:
        console.print("no models yet: scoring uses the rules (`leadflow model train` when "
                      "outcomes are in)")
        return
    t = Table(title="models")
    for c in ("version", "status", "algorithm", "window", "ROC AUC", "baseline", "features"):
        t.add_column(c)
    for r in df.to_dict("records"):
        m = r["metrics"] if isinstance(r["metrics"], dict) else json.loads(r["metrics"])
        f = r["features"] if isinstance(r["features"], list) else json.loads(r["features"])
        t.add_row(r["version"], r["status"], r["algorithm"], f"{r['window_start']}..{r['window_end']}",
                  str(m["holdout"]["roc_auc"]),
                  f"{m['baseline']['name']} {m['baseline']['roc_auc']}", str(len(f)))
    console.print(t)


@model_app.command("promote")
def cmd_promote(version: Annotated[str, typer.Argument(help="Version to make live")],
                config: ConfigOpt = None) -> None:
    """Make a version the live model (the previous one is retired)."""
    from leadflow import config as cfg
    from leadflow.score import registry
    from leadflow.store import db
    settings = cfg.load(config)
    eng = db.engine(settings.database_url)
    db.require_schema(eng)
    registry.promote(eng, version)
    console.print(f"promoted {version}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(model_app, name="model")
