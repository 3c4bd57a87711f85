"""A self-contained HTML evaluation report: metrics, calibration plot and lift chart.

Charts are matplotlib PNGs embedded as base64, so the file opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def calibration_png(results: dict[str, dict[str, Any]]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    for algo, r in results.items():
        pred = [b["predicted"] for b in r["calibration"]]
        obs = [b["observed"] for b in r["calibration"]]
        ax.plot(pred, obs, marker="o", label=f"{algo} (err {r['calibration_error']})")
    ax.set_xlabel("predicted probability (decile mean)")
    ax.set_ylabel("observed conversion rate")
    ax.set_title("Calibration on the holdout")
    ax.legend(fontsize=8)
    return _png(fig)


def lift_png(results: dict[str, dict[str, Any]]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    width = 0.8 / max(len(results), 1)
    for i, (algo, r) in enumerate(results.items()):
        d = np.array([x["decile"] for x in r["lift"]])
        ax.bar(d + (i - (len(results) - 1) / 2) * width, [x["lift"] for x in r["lift"]],
               width=width, label=algo)
    ax.axhline(1.0, c="grey", ls="--", lw=1)
    ax.set_xlabel("decile of leads by score (1 = highest)")
    ax.set_ylabel("lift over the average conversion rate")
    ax.set_title("Lift by decile on the holdout")
    ax.set_xticks(range(1, 11))
    ax.legend(fontsize=8)
    return _png(fig)


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write(result: dict[str, Any], out_dir: Path, title: str, stamp: str | None = None) -> Path:
    """Write the report for an ``evaluate_file``-style result; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"model-evaluation-{result.get('source', 'model')}-{stamp}.html"
    res = result["results"]
    summary = [{"algorithm": a + (" (chosen)" if a == result.get("best") else ""),
                **{k: r[k] for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile",
                                     "calibration_error", "calibration_method", "fit_seconds")}}
               for a, r in res.items()]
    best = res[result["best"]]
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in result.get("warnings", [])) or "<li>none</li>"
    feats = ", ".join(f"{f['name']} ({f['kind']}, {f['known_at']})" for f in result["features"])
    excluded = ", ".join(result.get("excluded_after_contact", [])) or "none"
    single = sorted(result.get("single_feature_auc", {}).items(), key=lambda kv: -kv[1])[:10]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f3f3f3}}.warn{{color:#a40}}img{{max-width:48%;margin:1%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{result['rows']} rows, {result['conversions']} conversions; split: {html.escape(str(result['split']))}
 - fitted on {result['train_rows']}, calibrated on {html.escape(str(result['calibration_rows']))},
 judged on {result['holdout_rows']} held-out rows.</p>
<h2>Holdout metrics</h2>{_table(summary, list(summary[0]))}
<h2>Warnings</h2><ul class="warn">{warn}</ul>
<h2>Charts</h2><img alt="calibration plot" src="{calibration_png(res)}">
<img alt="lift chart" src="{lift_png(res)}">
<h2>Calibration table ({html.escape(result['best'])})</h2>
{_table(best['calibration'], ['n', 'p_min', 'p_max', 'predicted', 'observed'])}
<h2>Lift by decile ({html.escape(result['best'])})</h2>{_table(best['lift'], ['decile', 'n', 'rate', 'lift'])}
<h2>Features</h2><p>{html.escape(feats)}</p><p>Excluded (known only after sales contact):
 {html.escape(excluded)}</p>
<h2>Each feature alone (holdout ROC AUC)</h2>
{_table([{'feature': k, 'roc_auc': v} for k, v in single], ['feature', 'roc_auc'])}
</body></html>"""
    path.write_text(doc, encoding="utf-8")
    return path
