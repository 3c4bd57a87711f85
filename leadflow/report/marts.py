"""Run the portable SQL marts in ``sql/`` and return DataFrames (plus the pandas-side summaries).

The SQL files are the single definition of each mart: they run unchanged on SQLite and
PostgreSQL. What SQL cannot say portably is done here and documented in docs/reporting.md:
- the day -> week calendar (``_calendar.sql``: a session TEMPORARY table filled from Python);
- medians and timestamp differences (stage times, speed-to-lead) from portable extracts;
- roll-ups of the finest-grain funnel to channel / campaign / source / week, with the
  conversion rates recomputed from the summed counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadflow.canonical import SELLING_STEPS
from leadflow.errors import LeadflowError
from leadflow.store import db

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MARTS = ("funnel", "campaign_performance", "sla_compliance", "speed_to_lead", "rejection_reasons",
         "stage_times", "attribution_deals", "attribution_touches", "campaign_names", "landing_urls")
STAGES = ("leads", "mqls", "sals", "sqls", "opportunities", "customers")
RATES = {"mql_rate": ("mqls", "leads"), "sal_rate": ("sals", "mqls"), "sql_rate": ("sqls", "sals"),
         "opportunity_rate": ("opportunities", "sqls"), "win_rate": ("customers", "opportunities")}
# A rate out of a stage nobody was seen in on its own (only implied by a later fact, e.g. a win
# walking SAL, SQL and opportunity at one instant) is 100% by construction: it is left empty.
SEEN = {"sal_rate": "mqls_seen", "sql_rate": "sals_seen", "opportunity_rate": "sqls_seen",
        "win_rate": "opportunities_seen"}
STEP_COLS = tuple(f"step_{s}" for s in SELLING_STEPS)
_TYPES = {"start_ts": sa.DateTime, "end_ts": sa.DateTime, "as_of": sa.DateTime,
          "start_day": sa.Date, "end_day": sa.Date}
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")
_TIME_COLS = ("entered_at", "left_at", "handed_off_at", "sla_due_at", "first_action_at", "won_at",
              "opportunity_at", "lead_created_at", "occurred_at")


@dataclass(frozen=True)
class Window:
    """Report window: days ``start``..``end`` (inclusive) and the logical time ``as_of``."""

    start: date
    end: date
    as_of: datetime

    @property
    def params(self) -> dict[str, object]:
        return {"start_ts": datetime.combine(self.start, time.min),
                "end_ts": datetime.combine(self.end + timedelta(days=1), time.min),
                "start_day": self.start, "end_day": self.end, "as_of": self.as_of}


def window_for(engine: Engine | Connection, run_date: date, start: date | None = None,
               end: date | None = None, as_of: date | None = None) -> Window:
    """Leads created ``start`` (default: the first person) .. ``end`` (default: run date), with
    the events known by the end of ``as_of`` (default: the run date): the cohort and what is
    known about it are chosen separately."""
    end = end or run_date
    known = as_of or run_date
    if known < end:
        raise LeadflowError(f"--as-of {known} is before --to {end}: leads created after the as-of day "
                            "are not known yet (choose an as-of day on or after the cohort's last day)")
    if start is None:
        from leadflow.store.schema import people
        first = db.read_df(engine, sa.select(sa.func.min(people.c.created_at).label("m")))["m"].iloc[0]
        start = pd.Timestamp(first).date() if first is not None and not pd.isna(first) else end
    cut = datetime.combine(known + timedelta(days=1), time.min) - timedelta(seconds=1)
    return Window(min(start, end), end, cut)


def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _statement(text: str) -> sa.TextClause:
    """The SQL without its header comments (they mention the :params), with typed binds."""
    text = re.sub(r"--[^\n]*", "", text)
    names = sorted(set(_PARAM.findall(text)))
    return sa.text(text).bindparams(*[sa.bindparam(n, type_=_TYPES[n]()) for n in names])


def _calendar(conn: Connection, w: Window) -> None:
    conn.execute(_statement(sql_text("_calendar")))
    conn.execute(sa.text("DELETE FROM rpt_calendar"))
    days = pd.date_range(w.start, w.end, freq="D")
    week = days - pd.to_timedelta(days.weekday, unit="D")
    rows = [{"d": d, "w": wk, "m": m} for d, wk, m in
            zip(days.strftime("%Y-%m-%d"), week.strftime("%Y-%m-%d"), days.strftime("%Y-%m"))]
    if rows:
        conn.execute(sa.text("INSERT INTO rpt_calendar (day, week_start, month) VALUES (:d, :w, :m)"), rows)


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Same dtypes on both backends: PostgreSQL returns Decimal for SUMs, SQLite text for times."""
    for c in df.columns:
        if c in _TIME_COLS:
            df[c] = pd.to_datetime(df[c], format="ISO8601") if df[c].dtype != "datetime64[us]" else df[c]
        elif df[c].dtype == object and len(df) and df[c].map(lambda v: isinstance(v, Decimal)).any():
            df[c] = pd.to_numeric(df[c].map(lambda v: float(v) if isinstance(v, Decimal) else v))
    return df


def run(engine: Engine, w: Window, names: tuple[str, ...] | list[str] = MARTS) -> dict[str, pd.DataFrame]:
    """Run the named marts for the window on one connection; {name: DataFrame}."""
    out: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        _calendar(conn, w)
        for name in names:
            out[name] = _tidy(db.read_frame(conn, _statement(sql_text(name)), w.params))
        conn.rollback()
    return out


# ------------------------------------------------------------------ pandas-side summaries
def rollup(funnel: pd.DataFrame, by: list[str] | str) -> pd.DataFrame:
    """Sum the funnel to ``by`` and recompute consecutive-step conversion (stages and selling)."""
    by = [by] if isinstance(by, str) else list(by)
    counts = [c for c in funnel.columns if c not in ("campaign_id", "channel", "source", "cohort_week")
              and c not in RATES]
    g = funnel.groupby(by, as_index=False, dropna=False)[counts].sum() if by else \
        funnel[counts].sum().to_frame().T
    return add_rates(g)


def add_rates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for rate, (num, den) in RATES.items():
        ok = out[den] > 0
        if rate in SEEN and SEEN[rate] in out:
            ok &= out[SEEN[rate]] > 0
        out[rate] = np.where(ok, out[num] / out[den].where(out[den] > 0, 1), np.nan)
    prev = "sals"
    for col in STEP_COLS:
        base = out[prev]
        out[col.replace("step_", "rate_")] = np.where(base > 0, out[col] / base.where(base > 0, 1), np.nan)
        prev = col
    return out


def landing_pages(urls: pd.DataFrame) -> pd.DataFrame:
    """The ``landing_urls`` mart per page: query strings and fragments removed (they carry
    campaign tags and click ids, not a different page), counts summed."""
    page = urls["landing_url"].astype(str).str.split(r"[?#]", n=1, regex=True).str[0]
    cols = [c for c in urls.columns if c != "landing_url"]
    return urls[cols].groupby(page.rename("landing_page"), as_index=False).sum()


def ranked(df: pd.DataFrame, by: str, n: int, ties: str) -> tuple[pd.DataFrame, int]:
    """The ``n`` rows with the most ``by`` (ties by ``ties``), and how many rows there were."""
    out = df.sort_values([by, ties], ascending=[False, True], kind="mergesort")
    return out.head(n).reset_index(drop=True), len(df)


def with_names(df: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """``campaign_name`` beside ``campaign_id`` (the id itself where the campaign is unknown)."""
    lookup = names.set_index("campaign_id")["campaign_name"]
    out = df.copy()
    pos = list(out.columns).index("campaign_id") + 1
    out.insert(pos, "campaign_name", out["campaign_id"].map(lookup).fillna(out["campaign_id"]))
    return out


def stage_durations(times: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Median (and p75) days spent in each lifecycle stage / selling step, and who is still there.

    Completed stays only (``left_at`` known) enter the median; ``still_in`` counts open stays
    in non-terminal stages: where leads stall.
    """
    by = list(by or [])
    t = times.copy()
    t["days"] = (t["left_at"] - t["entered_at"]).dt.total_seconds() / 86400.0
    t["open"] = t["left_at"].isna() & ~t["stage"].isin(["customer", "disqualified"])
    g = t.groupby(["kind", "stage", *by], dropna=False)
    out = pd.DataFrame({"entered": g.size(), "completed": g["days"].count(), "still_in": g["open"].sum(),
                        "median_days": g["days"].median(), "p75_days": g["days"].quantile(0.75)})
    order = {s: i for i, s in enumerate(("lead", "mql", "sal", "sql", "opportunity", "customer",
                                         "recycled", "disqualified", *SELLING_STEPS))}
    out = out.reset_index()
    out["_o"] = out["stage"].map(order)
    return out.sort_values(["kind", *by, "_o"]).drop(columns="_o").reset_index(drop=True)


def speed_summary(speed: pd.DataFrame, by: list[str] | str = "owner_rep") -> pd.DataFrame:
    """Speed-to-lead per group: handoffs, actioned, median and p90 hours to the first action."""
    by = [by] if isinstance(by, str) else list(by)
    s = speed.copy()
    s["hours"] = (s["first_action_at"] - s["handed_off_at"]).dt.total_seconds() / 3600.0
    g = s.groupby(by, dropna=False)
    return pd.DataFrame({"handoffs": g.size(), "actioned": g["hours"].count(),
                         "median_hours": g["hours"].median(),
                         "p90_hours": g["hours"].quantile(0.9)}).reset_index()
