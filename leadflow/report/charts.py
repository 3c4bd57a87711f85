"""Charts a marketer reads at a glance, rendered to base64 PNG (matplotlib, Agg: no display).

Each function takes mart DataFrames and returns a ``data:image/png;base64,...`` URI, or None
when there is nothing to draw (the report then says so instead of showing an empty frame).
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from leadflow.canonical import SELLING_STEPS  # noqa: E402

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
STAGE_LABELS = {"leads": "Lead", "mqls": "MQL", "sals": "SAL", "sqls": "SQL",
                "opportunities": "Opportunity", "customers": "Customer"}


def _uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=85)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def funnel_by_channel(by_channel: pd.DataFrame) -> str | None:
    """Grouped bars: people reaching each lifecycle stage, per origin channel (log scale)."""
    if by_channel.empty:
        return None
    stages = list(STAGE_LABELS)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    k = len(by_channel)
    width = 0.8 / max(k, 1)
    x = np.arange(len(stages))
    for i, (_, row) in enumerate(by_channel.iterrows()):
        ax.bar(x + i * width - 0.4 + width / 2, [max(row[s], 0.8) for s in stages], width,
               label=str(row["channel"]), color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(x, [STAGE_LABELS[s] for s in stages])
    ax.set_yscale("log")
    ax.set_ylabel("people (log scale)")
    ax.set_title("Funnel by channel: people reaching each stage")
    ax.legend(ncol=min(k, 4), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _uri(fig)


def weekly_trend(by_week: pd.DataFrame) -> str | None:
    """Weekly cohorts: leads (bars), MQLs and customers (lines) by creation week, lead→MQL % on the right."""
    if by_week.empty:
        return None
    w = by_week.sort_values("cohort_week")
    x = np.arange(len(w))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.bar(x, w["leads"], color=PALETTE[0], alpha=0.85, label="leads")
    ax.plot(x, w["mqls"], color=PALETTE[1], lw=3, marker="o", label="MQLs")
    ax.plot(x, w["customers"], color=PALETTE[2], lw=3, marker="s", label="customers")
    ax.set_ylabel("people")
    step = max(1, len(w) // 12)
    ax.set_xticks(x[::step], w["cohort_week"].astype(str).to_numpy()[::step], rotation=30, fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, w["mql_rate"] * 100, color=PALETTE[3], lw=2, ls="--", label="lead→MQL %")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("lead→MQL %")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    ax.set_title("Weekly cohorts: leads by creation week and what became of them", pad=24)
    ax.grid(axis="y", alpha=0.3)
    return _uri(fig)


def _na_labels(ax: plt.Axes, bars: BarContainer, vals: list[float], fmt: str) -> None:
    """Bar labels that say n/a where the rate is undefined, instead of drawing it as 0%."""
    ax.bar_label(bars, labels=["n/a" if np.isnan(v) else fmt % v for v in vals], fontsize=7)


def conversion_and_cost(total: pd.Series, perf_total: pd.Series) -> str | None:
    """Conversion between consecutive lifecycle stages, between selling steps, and cost per step."""
    fig, (a1, a3, a2) = plt.subplots(1, 3, figsize=(13, 4))
    rates = ["mql_rate", "sal_rate", "sql_rate", "opportunity_rate", "win_rate"]
    labels = ["Lead→MQL", "MQL→SAL", "SAL→SQL", "SQL→Opp", "Opp→Won"]
    vals = [float(total.get(r)) if pd.notna(total.get(r, np.nan)) else np.nan for r in rates]
    bars = a1.bar(labels, [0.0 if np.isnan(v) else v * 100 for v in vals], color=PALETTE[0])
    _na_labels(a1, bars, [v * 100 for v in vals], "%.0f%%")
    a1.set_ylim(0, 110)
    a1.set_ylabel("% converting")
    a1.set_title("Lifecycle: consecutive stages")
    a1.tick_params(axis="x", labelsize=7)
    short = {"prospecting": "Prosp.", "pre_approach": "Pre-appr.", "approach": "Approach",
             "presentation": "Present.", "meeting_objections": "Objections", "closing": "Closing",
             "follow_up": "Follow-up"}
    steps = list(SELLING_STEPS)
    sv = [float(total.get(f"rate_{s}")) * 100 if pd.notna(total.get(f"rate_{s}", np.nan)) else np.nan for s in steps]
    b3 = a3.bar([short[s] for s in steps], [0.0 if np.isnan(v) else v for v in sv], color=PALETTE[1])
    _na_labels(a3, b3, sv, "%.0f%%")
    a3.set_ylim(0, 110)
    a3.set_title("Selling steps: reached / previous step (SALs first)")
    a3.tick_params(axis="x", labelsize=7, rotation=30)
    costs = {"Lead": perf_total.get("cost_per_lead"), "MQL": perf_total.get("cost_per_mql"),
             "Opportunity": perf_total.get("cost_per_opportunity"),
             "Customer": perf_total.get("cost_per_customer")}
    cv = [float(v) if v is not None and pd.notna(v) else 0.0 for v in costs.values()]
    b2 = a2.bar(list(costs), cv, color=[PALETTE[2], PALETTE[3], PALETTE[4], PALETTE[5]])
    a2.bar_label(b2, fmt="%.0f", fontsize=8)
    a2.set_title("Cost per step (spend / people)")
    if not np.nansum(vals) and not any(cv):
        plt.close(fig)
        return None
    return _uri(fig)


def roi_per_campaign(perf: pd.DataFrame, top: int = 20) -> str | None:
    """Horizontal bars of ROI per campaign (green: pays back, red: does not)."""
    p = perf[perf["roi"].notna()].sort_values("roi").tail(top)
    if p.empty:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(p) + 1.2))
    colors = np.where(p["roi"] >= 0, "#2ca02c", "#d62728")
    ax.barh(p["campaign_name"].astype(str) + " (" + p["channel"].astype(str) + ")", p["roi"] * 100, color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("ROI % ((revenue - spend) / spend, origin campaign)")
    ax.set_title(f"ROI per campaign (the {len(p)} best by ROI)")
    ax.tick_params(axis="y", labelsize=8)
    return _uri(fig)


def attribution_side_by_side(by_channel: pd.DataFrame) -> str | None:
    """Grouped bars: revenue credited to each channel by each attribution model."""
    if by_channel.empty:
        return None
    models = [c for c in by_channel.columns if c != "channel"]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(by_channel))
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        ax.bar(x + i * width - 0.4 + width / 2, by_channel[m], width, label=m.replace("_", " "),
               color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(x, by_channel["channel"].astype(str), rotation=20, fontsize=8)
    ax.set_ylabel("credited revenue")
    ax.set_title("Attribution side by side: revenue credited per channel")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _uri(fig)


def stalls(durations: pd.DataFrame) -> str | None:
    """Where leads stall: median days in each stage/step and how many are sitting there now."""
    d = durations[~durations["stage"].isin(["customer", "disqualified"])]
    if d.empty:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    lab = d["kind"].str[0].str.upper() + ": " + d["stage"].astype(str)
    a1.barh(lab, d["median_days"].fillna(0), color=np.where(d["kind"] == "lifecycle", PALETTE[0], PALETTE[1]))
    a1.invert_yaxis()
    a1.set_xlabel("median days in step (completed stays)")
    a1.set_title("Time in each step")
    a1.tick_params(axis="y", labelsize=8)
    a2.barh(lab, d["still_in"], color=np.where(d["kind"] == "lifecycle", PALETTE[2], PALETTE[3]))
    a2.invert_yaxis()
    a2.set_xlabel("people still in the step")
    a2.set_title("Where leads stall now")
    a2.tick_params(axis="y", labelsize=8)
    return _uri(fig)


def sla_by_rep(sla: pd.DataFrame, speed: pd.DataFrame) -> str | None:
    """SLA compliance and median speed-to-lead per rep."""
    if sla.empty:
        return None
    g = sla.groupby("owner_rep")[["within_sla", "breached"]].sum()
    rate = (g["within_sla"] / (g["within_sla"] + g["breached"]).replace(0, np.nan)).fillna(0) * 100
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    a1.bar(rate.index.astype(str), rate.to_numpy(), color=PALETTE[2])
    a1.set_ylim(0, 105)
    a1.set_title("SLA compliance by rep (%)")
    a2.bar(speed["owner_rep"].astype(str), speed["median_hours"].fillna(0), color=PALETTE[4])
    a2.set_title("Median speed-to-lead (hours)")
    return _uri(fig)
