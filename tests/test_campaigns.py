"""Campaign spend loading: passed staging rows become campaigns and one spend row per day."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa

from leadflow import campaigns as camp_store
from leadflow.store import db
from leadflow.store.schema import campaign_spend, campaigns, ingest_batches, stg_campaign_spend


def _stage(engine: sa.Engine, rows: list[dict], content_hash: str) -> int:
    now = datetime(2026, 11, 26, 6)
    with engine.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source="spend", kind="campaign_spend", uri="spend.csv", content_hash=content_hash,
            status="landed", loaded_at=now)).inserted_primary_key[0]
        df = pd.DataFrame(rows)
        df["source"], df["batch_id"], df["loaded_at"], df["state"] = "spend", bid, now, "passed"
        df["row_number"] = range(1, len(df) + 1)
        db.bulk_insert(c, stg_campaign_spend, df)
    return bid


def test_spend_loads_once_and_corrections_replace(engine: sa.Engine, make_ctx) -> None:
    ctx = make_ctx({"sources": []}, engine)
    _stage(engine, [
        {"campaign_id": "c1", "campaign_name": "Q4 search", "channel": "paid_search",
         "spend_date": date(2026, 11, 25), "amount": 100.0, "currency": "EUR"},
        {"campaign_id": "c1", "campaign_name": "Q4 search", "channel": "paid_search",
         "spend_date": date(2026, 11, 26), "amount": 50.0, "currency": "EUR"},
        {"campaign_id": "c2", "campaign_name": "Webinar", "channel": "webinar",
         "spend_date": date(2026, 11, 26), "amount": 0.0, "currency": "EUR"},
    ], "h1")
    first = camp_store.load_spend(ctx)
    assert first == {"rows": 3, "campaigns_new": 2, "spend_days": 3}
    assert camp_store.load_spend(ctx)["rows"] == 0          # re-run: nothing pending
    _stage(engine, [{"campaign_id": "c1", "campaign_name": "Q4 search", "channel": "paid_search",
                     "spend_date": date(2026, 11, 26), "amount": 75.0, "currency": "EUR"}], "h2")
    assert camp_store.load_spend(ctx)["campaigns_new"] == 0
    spend = db.read_df(engine, sa.select(campaign_spend)
                       .order_by(campaign_spend.c.campaign_id, campaign_spend.c.spend_date))
    assert spend["amount"].tolist() == [100.0, 75.0, 0.0]
    assert db.read_df(engine, sa.select(campaigns)).shape[0] == 2
    states = db.read_df(engine, sa.select(stg_campaign_spend.c.state))["state"]
    assert set(states) == {"loaded"}


def _spend_row(campaign: str, currency: str) -> dict:
    return {"campaign_id": campaign, "campaign_name": campaign, "channel": "paid_search",
            "spend_date": date(2026, 11, 25), "amount": 100.0, "currency": currency}


def test_spend_in_another_currency_than_the_reports_is_quarantined(engine: sa.Engine, make_ctx) -> None:
    """leadflow converts no currencies: with report.currency EUR, a USD spend row summed into
    cost per lead and ROI would be silently wrong, so quality quarantines it by name. Without a
    report currency every code passes, as before."""
    from leadflow.quality import validate_all
    from leadflow.store.schema import quarantine
    bid = _stage(engine, [_spend_row("c1", "EUR"), _spend_row("c2", "USD"), _spend_row("c3", "EUR")], "cur")
    with engine.begin() as c:
        c.execute(stg_campaign_spend.update().where(stg_campaign_spend.c.batch_id == bid).values(state="landed"))
    ctx = make_ctx({"sources": [], "report": {"currency": "EUR"}}, engine)
    validate_all(ctx, docs=False)
    assert camp_store.load_spend(ctx)["rows"] == 2
    with engine.connect() as c:
        loaded = sorted(c.execute(sa.select(campaign_spend.c.campaign_id)).scalars())
        q = c.execute(sa.select(quarantine.c.row_number, quarantine.c.reasons)).all()
    assert loaded == ["c1", "c3"]
    assert [(r.row_number, r.reasons) for r in q] == [(2, ["currency_is_report_currency"])]


def test_without_a_report_currency_every_spend_currency_loads(engine: sa.Engine, make_ctx) -> None:
    from leadflow.quality import validate_all
    bid = _stage(engine, [_spend_row("c1", "EUR"), _spend_row("c2", "USD")], "cur2")
    with engine.begin() as c:
        c.execute(stg_campaign_spend.update().where(stg_campaign_spend.c.batch_id == bid).values(state="landed"))
    ctx = make_ctx({"sources": []}, engine)
    validate_all(ctx, docs=False)
    assert camp_store.load_spend(ctx)["rows"] == 2
