"""CRM history (issue 18): a two-year MQL -> won-deal history loads with each lead's own dates, the
same in one run as replayed day by day, and equal to an independent pandas count."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow import config as cfg
from leadflow import pipeline
from leadflow.demo.history import History, history_frames, write_history
from leadflow.report import marts
from leadflow.store import db
from leadflow.store.schema import lifecycle_events, metadata, outcomes, people, person_records

START, DAYS, N, SEED = date(2024, 1, 1), 730, 240, 11
END = START + timedelta(days=DAYS - 1)
AS_OF = datetime.combine(END + timedelta(days=1), time.min) - timedelta(seconds=1)


# ---------------------------------------------------------------- the generator
def test_history_is_deterministic_email_free_and_wins_only() -> None:
    a, b = history_frames(500, seed=3), history_frames(500, seed=3)
    assert a.mqls.equals(b.mqls) and a.deals.equals(b.deals)
    assert not history_frames(500, seed=4).mqls.equals(a.mqls)
    assert list(a.mqls.columns) == ["mql_id", "first_contact_date", "landing_page_id", "origin", "campaign"]
    assert a.mqls["mql_id"].is_unique and set(a.deals["mql_id"]) <= set(a.mqls["mql_id"])
    m = a.deals.merge(a.mqls, on="mql_id")
    assert (pd.to_datetime(m["won_date"]) > pd.to_datetime(m["first_contact_date"])).all()
    assert "status" not in a.deals.columns          # a wins-only export: nothing says lost


def test_history_has_learnable_signal() -> None:
    """Channel, landing page and first-touch time move the true win probability."""
    h = history_frames(8000, seed=7)
    t = h.truth.merge(h.mqls, on="mql_id")
    ts = pd.to_datetime(t["first_contact_date"])
    by_origin = t.groupby("origin")["won"].mean()
    assert by_origin["referral"] > 2 * by_origin["email"]
    top_pages = t["landing_page_id"].value_counts().index[:10]
    page_rates = t[t["landing_page_id"].isin(top_pages)].groupby("landing_page_id")["won"].mean()
    assert page_rates.max() - page_rates.min() > 0.08
    weekend = ts.dt.dayofweek >= 5
    assert t.loc[~weekend, "won"].mean() > t.loc[weekend, "won"].mean()


# ---------------------------------------------------------------- loading it
def _settings(folder: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> cfg.Settings:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
    return cfg.load(folder / "leadflow.yaml")


def _reset(engine: sa.Engine) -> None:
    """An empty warehouse at head again (both loads run on the same backend fixture)."""
    metadata.drop_all(engine)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS leadflow_alembic_version")
    db.init(engine)


def _monthly_funnel(engine: sa.Engine) -> pd.DataFrame:
    """leadflow's own funnel report (the funnel mart), one report window per cohort month."""
    rows = []
    for m in pd.period_range(START, END, freq="M"):
        w = marts.Window(m.start_time.date(), m.end_time.date(), AS_OF)
        f = marts.run(engine, w, ["funnel"])["funnel"]
        rows.append({"month": str(m), "leads": int(f["leads"].sum()), "mqls": int(f["mqls"].sum()),
                     "customers": int(f["customers"].sum()),
                     "won_revenue": round(float(f["won_revenue"].sum()), 2)})
    return pd.DataFrame(rows).set_index("month")


def _pandas_funnel(h: History) -> pd.DataFrame:
    """The same counts straight from the two exports, with pandas alone."""
    m = h.mqls.assign(month=h.mqls["first_contact_date"].str[:7])
    rev = m["mql_id"].map(h.deals.set_index("mql_id")["declared_monthly_revenue"])
    m = m.assign(won=rev.notna().astype(int), revenue=rev.fillna(0.0))
    g = m.groupby("month").agg(leads=("mql_id", "size"), customers=("won", "sum"), won_revenue=("revenue", "sum"))
    g["mqls"] = g["leads"]
    g = g.reindex([str(p) for p in pd.period_range(START, END, freq="M")], fill_value=0)
    g["won_revenue"] = g["won_revenue"].round(2)
    return g[["leads", "mqls", "customers", "won_revenue"]].astype({"leads": int, "mqls": int, "customers": int})


def _lead_times(engine: sa.Engine) -> pd.DataFrame:
    """Per MQL id: created_at and the time of each lifecycle stage reached."""
    with engine.connect() as c:
        ids = db.read_frame(c, sa.select(person_records.c.person_id, person_records.c.source_record_id)
                            .where(person_records.c.source == "mqls"))
        ppl = db.read_frame(c, sa.select(people.c.person_id, people.c.created_at))
        ev = db.read_frame(c, sa.select(lifecycle_events.c.person_id, lifecycle_events.c.to_stage,
                                        lifecycle_events.c.occurred_at))
    wide = ev.pivot_table(index="person_id", columns="to_stage", values="occurred_at", aggfunc="min")
    out = ids.merge(ppl, on="person_id").merge(wide, left_on="person_id", right_index=True, how="left")
    return out.set_index("source_record_id").sort_index()


def _backfill(config: Path, d1: date, d2: date, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``leadflow backfill --from d1 --to d2`` as a user types it; its per-day lines."""
    from leadflow.cli import main
    assert main(["backfill", "-c", str(config), "--from", str(d1), "--to", str(d2)]) == 0
    return [x for x in capsys.readouterr().out.splitlines() if x[:4].isdigit() and "rows in" in x]


@pytest.mark.slow      # 9 runs of the real steps (GX quality each): ~20 s per backend under load
def test_two_years_in_one_run_equal_day_by_day_and_pandas(tmp_path, db_url, monkeypatch, capsys) -> None:
    """Done-when 1 of issue 18: ``leadflow backfill`` loading the whole history in one run (every
    file dated up to the last day lands on that day) and replaying it delivery day by delivery day
    give identical monthly funnels, equal to an independent pandas computation; every lead keeps
    its own dates. Quarterly exports keep the replay to ~8 runs (each run's fixed cost, GX
    quality above all, dominates; the lead count hardly matters)."""
    h = history_frames(N, SEED, START, DAYS)
    expected = _pandas_funnel(h)
    assert expected["customers"].sum() >= 20            # enough wins to mean something

    one_cfg = write_history(tmp_path / "one", N, SEED, START, DAYS, every="quarter")
    one = _settings(one_cfg.parent, db_url, monkeypatch)
    eng = db.engine(db_url)
    db.init(eng)
    lines = _backfill(one_cfg, END, END, capsys)     # every earlier-dated file lands on the one day
    assert len(lines) == 1 and f"outcomes loaded {len(h.deals)}  quarantined 0" in lines[0]
    funnel_one = _monthly_funnel(eng)
    times_one = _lead_times(eng)
    pd.testing.assert_frame_equal(funnel_one, expected, check_dtype=False)
    assert one.feedback.aging_days == 180

    # Each lead's dates are its own, at the timestamp level, whatever run loaded it.
    mq = h.mqls.set_index("mql_id").sort_index()
    created = pd.to_datetime(mq["first_contact_date"])
    assert (pd.to_datetime(times_one["created_at"]) == created).all()
    assert (pd.to_datetime(times_one["lead"]) == created).all()
    assert (pd.to_datetime(times_one["mql"]) == created).all()
    won = pd.to_datetime(h.deals.set_index("mql_id")["won_date"])
    assert (pd.to_datetime(times_one.loc[won.index, "customer"]) == won).all()
    same_day = won[won.dt.date == created.loc[won.index].dt.date]
    assert len(same_day) > 0                            # same-day wins exist and keep their real times
    assert (pd.to_datetime(times_one.loc[same_day.index, "mql"]) < same_day).all()

    _reset(eng)
    daily = _settings(write_history(tmp_path / "daily", N, SEED, START, DAYS, every="quarter").parent,
                      db_url, monkeypatch)
    file_days = pipeline.delivery_days(daily, START, END)
    assert file_days is not None and len(file_days) == 8               # quarter ends of both exports
    deal_days = pd.to_datetime(h.deals["won_date"]).dt.to_period("Q")
    mql_days = pd.to_datetime(h.mqls.set_index("mql_id").loc[h.deals["mql_id"], "first_contact_date"]).dt.to_period("Q")
    assert (deal_days.to_numpy() > mql_days.to_numpy()).any()           # wins citing an MQL loaded on an earlier day
    assert (deal_days.to_numpy() == mql_days.to_numpy()).any()          # and on the same day
    lines = _backfill(daily.config_path, START, END, capsys)
    assert [x[:10] for x in lines] == sorted(str(d) for d in file_days)  # each delivery day, in order
    funnel_daily = _monthly_funnel(eng)
    pd.testing.assert_frame_equal(funnel_daily, funnel_one)
    pd.testing.assert_frame_equal(_lead_times(eng).drop(columns="person_id"), times_one.drop(columns="person_id"))
    with eng.connect() as c:
        n_out = c.execute(sa.select(sa.func.count()).select_from(outcomes)).scalar()
    assert n_out == len(h.deals)
