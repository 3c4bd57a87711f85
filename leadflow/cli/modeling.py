"""`leadflow model ...`: train, evaluate a lead file, list versions, promote one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow.cli.core import ConfigOpt, open_warehouse, parse_date

model_app = typer.Typer(help="The predictive lead-scoring model: train, evaluate, list, promote.",
                        no_args_is_help=True)
console = Console()
SplitOpt = Annotated[str | None, typer.Option(
    "--split-date", help="Time split: judge on leads (handoffs) from this day on, YYYY-MM-DD")]


@model_app.command("train")
def cmd_train(config: ConfigOpt = None,
              run_date: Annotated[str | None, typer.Option("--date", "-d",
                                  help="Train on outcomes known by this date (default: today)")] = None,
              allow_leaky: Annotated[bool, typer.Option(
                  "--allow-leaky", help="Diagnostic only: include after-contact features")] = False,
              confirm_leakage: Annotated[str | None, typer.Option(
                  "--confirm-leakage", metavar="NAME",
                  help="Promote even if the leakage audit flags the model (your name is recorded)")] = None,
              split_date: SplitOpt = None,
              ) -> None:
    """Train on handoff outcomes; promote the model only if it beats the live one."""
    from leadflow.context import open_context
    from leadflow.score import train_model
    ctx = open_context(config, parse_date(run_date), job="cli.model_train")
    out = train_model(ctx, allow_leaky=allow_leaky, confirm_leakage=confirm_leakage,
                      split_date=parse_date(split_date, "--split-date"))
    for w in out.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")
    console.print(out["message"], soft_wrap=True)
    if out["status"] == "rules_only":
        return
    h = out["holdout"]
    console.print(f"examples {out['examples']} ({out['inferred_negatives']} negatives inferred by "
                  f"aging), conversions {out['conversions']}; holdout {h['rows']} handoffs from "
                  f"{h['from']}", soft_wrap=True)
    rows = {a + (" *" if a == out["algorithm"] else ""): r for a, r in out["compared"].items()}
    console.print(_metrics_table("holdout", {**rows, NB_ROW: out["naive_bayes"]}))
    console.print(f"{out['algorithm']} ROC AUC {out['roc_auc']} vs naive Bayes baseline "
                  f"{out['naive_bayes']['roc_auc']} vs {out['baseline_name']} "
                  f"{out['baseline_roc_auc']} on the same holdout", soft_wrap=True)


NB_ROW = "naive Bayes (baseline)"
METRIC_COLUMNS = {"ROC AUC": "roc_auc", "PR AUC": "pr_auc", "Brier": "brier",
                  "lift top 10%": "lift_top_decile", "calib. error": "calibration_error"}


def _metrics_table(title: str, rows: dict[str, dict]) -> Table:
    """One row per model (the chosen one starred, the naive-Bayes baseline last), same metrics."""
    t = Table(title=title)
    t.add_column("algorithm")
    for c in METRIC_COLUMNS:
        t.add_column(c)
    for name, r in rows.items():
        t.add_row(name, *(str(r.get(k)) for k in METRIC_COLUMNS.values()))
    return t


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
                 split_date: SplitOpt = None,
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
                        algorithms=algorithm or None, features=feature or None,
                        split_date=parse_date(split_date, "--split-date"))
    for w in res["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    if res["excluded_after_contact"]:
        console.print("excluded (known only after sales contact): "
                      + ", ".join(res["excluded_after_contact"]))
    left = res["left_out"]
    if left["outcome_missing"] or left["outcome_unreadable"]:
        console.print(f"left out: {left['outcome_missing']} rows without an outcome yet, "
                      f"{left['outcome_unreadable']} with an unreadable one")
    rows = {a + (" *" if a == res["best"] else ""): r for a, r in res["results"].items()}
    console.print(_metrics_table(
        f"{source}: {res['rows']} rows, {res['conversions']} conversions, {res['split']} holdout "
        f"of {res['holdout_rows']}", {**rows, NB_ROW: res["naive_bayes"]}))
    console.print(f"{res['best']} ROC AUC {res['results'][res['best']]['roc_auc']} vs naive Bayes "
                  f"baseline {res['naive_bayes']['roc_auc']} on the same holdout", soft_wrap=True)
    best = res["results"][res["best"]]
    rt = Table(title=f"reliability ({res['best']}, holdout): predicted vs observed per tenth")
    for c in ("rows", "predicted", "observed"):
        rt.add_column(c)
    for b in best["calibration"]:
        rt.add_row(str(b["n"]), str(b["predicted"]), str(b["observed"]))
    console.print(rt)
    lk = res.get("leakage") or {}
    if lk.get("flagged"):
        console.print(f"[red]leakage suspected[/] in: {', '.join(lk['columns']) or 'the model as a whole'}"
                      " - see the warnings above; do not score leads with this model", soft_wrap=True)
    path = report.write(res, settings.reports_dir, f"Model evaluation: {source} ({data.name})")
    console.print(f"report: {path}")
    if json_out:
        clean = {k: v for k, v in res.items() if not k.startswith("_")}
        json_out.write_text(json.dumps(clean, indent=2, default=str), encoding="utf-8")
    _ = ev


@model_app.command("list")
def cmd_list(config: ConfigOpt = None) -> None:
    """Model versions with their window, holdout metrics and status."""
    from leadflow.score import registry
    settings, eng = open_warehouse(config)
    df = registry.list_models(eng)
    if df.empty:
        console.print("no models yet: scoring uses the rules (`leadflow model train` when "
                      "outcomes are in)")
        return
    from leadflow.score import monitor
    last = monitor.history(eng)
    last = last.drop_duplicates("version") if len(last) else last
    latest = {r["version"]: r for r in last.to_dict("records")} if len(last) else {}
    t = Table(title="models")
    for c in ("version", "status", "algorithm", "window", "ROC AUC", "baseline", "features"):
        t.add_column(c)
    notes: list[str] = []
    for r in df.to_dict("records"):
        m = r["metrics"] if isinstance(r["metrics"], dict) else json.loads(r["metrics"])
        f = r["features"] if isinstance(r["features"], list) else json.loads(r["features"])
        lk = r.get("leakage")
        lk = lk if isinstance(lk, dict) else json.loads(lk) if isinstance(lk, str) and lk else {}
        t.add_row(r["version"], r["status"], r["algorithm"], f"{r['window_start']}..{r['window_end']}",
                  str(m["holdout"]["roc_auc"]),
                  f"{m['baseline']['name']} {m['baseline']['roc_auc']}", str(len(f)))
        notes.append(f"{r['version']}: calibration error {m['holdout'].get('calibration_error')}; "
                     f"leakage {_leak_text(lk)}; last weekly check "
                     f"{_week_text(latest.get(r['version']))}")
    console.print(t)
    for n in notes:
        console.print(n, soft_wrap=True)


def _leak_text(lk: dict) -> str:
    if not lk:
        return "-"
    if lk.get("decision") == "confirmed":
        return f"flagged, confirmed by {lk.get('confirmed_by')}"
    return lk.get("decision", "-") + (f" ({', '.join(lk.get('columns', []))})" if lk.get("columns") else "")


def _week_text(w: dict | None) -> str:
    if not w:
        return "-"
    alerts = w.get("alerts") or []
    return (f"{w['week_start']}: PSI {w['psi_score']}, ECE {w['calibration_error']}, "
            f"AUC {w['roc_auc']}" + (f", {len(alerts)} ALERT(S)" if alerts else ", ok"))


@model_app.command("monitor")
def cmd_monitor(config: ConfigOpt = None,
                run_date: Annotated[str | None, typer.Option(
                    "--date", "-d", help="Week ends (exclusive) on this date (default: today)")] = None,
                ) -> None:
    """Weekly check of the live model on realised outcomes (PSI, calibration, AUC); stored."""
    from leadflow.context import open_context
    from leadflow.score import monitor
    ctx = open_context(config, parse_date(run_date), job="cli.model_monitor")
    row = monitor.weekly(ctx.settings, ctx.engine, ctx.run_date)
    if row is None:
        console.print("no live model: nothing to monitor (scoring uses the rules)")
        return
    _print_week(row)


def _print_week(row: dict) -> None:
    console.print(f"model {row['version']}, week from {row['week_start']}: {row['scored']} scored, "
                  f"{row['closed']} outcomes closed; ROC AUC {row['roc_auc']}, calibration error "
                  f"{row['calibration_error']}, score PSI {row['psi_score']}")
    m = row["metrics"]
    if m.get("psi_features"):
        console.print("input PSI: " + ", ".join(f"{k} {v}" for k, v in m["psi_features"].items()))
    if m.get("calibration"):
        t = Table(title="calibration by score band (closed this week)")
        for c in ("band", "n", "predicted", "observed"):
            t.add_column(c)
        for b in m["calibration"]:
            t.add_row(b["band"], str(b["n"]), str(b["predicted"]), str(b["observed"]))
        console.print(t)
    for a in row["alerts"]:
        console.print(f"[red]ALERT:[/] {a}")
    if not row["alerts"]:
        console.print("no alerts")


@model_app.command("status")
def cmd_status(config: ConfigOpt = None) -> None:
    """The live model, its leakage review and its latest weekly checks."""
    from leadflow.score import monitor, registry
    settings, eng = open_warehouse(config)
    live = registry.current(eng)
    if live is None:
        console.print("no live model: scoring uses the rules")
        return
    m = live["metrics"] if isinstance(live["metrics"], dict) else json.loads(live["metrics"])
    lk = live.get("leakage")
    lk = lk if isinstance(lk, dict) else json.loads(lk) if isinstance(lk, str) and lk else {}
    console.print(f"live model {live['version']} ({live['algorithm']}), trained on "
                  f"{live['window_start']}..{live['window_end']}: holdout ROC AUC "
                  f"{m['holdout']['roc_auc']}, calibration error {m['holdout'].get('calibration_error')}; "
                  f"leakage review: {_leak_text(lk)}")
    hist = monitor.history(eng, live["version"], weeks=4)
    if hist.empty:
        console.print("no weekly checks yet (`leadflow model monitor`)")
        return
    for r in hist.to_dict("records"):
        console.print("  " + _week_text(r))
    _print_week(hist.iloc[0].to_dict())


@model_app.command("promote")
def cmd_promote(version: Annotated[str, typer.Argument(help="Version to make live")],
                config: ConfigOpt = None,
                confirm_leakage: Annotated[str | None, typer.Option(
                    "--confirm-leakage", metavar="NAME",
                    help="Needed for a version the leakage audit flagged (your name is recorded)")] = None,
                ) -> None:
    """Make a version the live model (the previous one is retired)."""
    from leadflow.score import registry
    settings, eng = open_warehouse(config)
    registry.promote(eng, version, confirmed_by=confirm_leakage)
    console.print(f"promoted {version}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(model_app, name="model")
