"""The load stage for campaigns: passed staging rows -> ``campaigns`` + ``campaign_spend`` (loaded beside
identity, before scoring, so touches and reports can name their campaign)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.store import db, rowstate
from leadflow.store.schema import campaign_spend, campaigns, stg_campaign_spend


def spend_rows(stg: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split staged spend into campaign master rows and one spend row per campaign and day.

    A later delivery for the same campaign and day replaces the earlier amount (corrections),
    so within one load the row from the latest batch wins.
    """
    stg = stg.sort_values(["batch_id", "row_number"])
    spend = (stg.drop_duplicates(["campaign_id", "spend_date"], keep="last")
             [["campaign_id", "spend_date", "amount", "currency", "batch_id"]])
    camp = (stg.sort_values(["spend_date", "batch_id", "row_number"])
            .groupby("campaign_id", as_index=False)
            .agg(name=("campaign_name", "last"), channel=("channel", "last"),
                 first_seen=("spend_date", "min")))
    return camp, spend


def load_spend(ctx: RunContext) -> dict[str, Any]:
    """Load passed spend rows; idempotent (keys: campaign_id, and campaign_id + spend_date)."""
    with ctx.engine.begin() as conn:
        stg = db.read_df(conn, sa.select(stg_campaign_spend).where(rowstate.passed(stg_campaign_spend)))
        if stg.empty:
            return {"rows": 0, "campaigns_new": 0, "spend_days": 0}
        camp, spend = spend_rows(stg)
        new = db.copy_upsert(conn, campaigns, camp, conflict=["campaign_id"])
        db.copy_upsert(conn, campaign_spend, spend, conflict=["campaign_id", "spend_date"],
                       update=["amount", "currency", "batch_id"])
        keys = stg[["batch_id", "row_number"]]
        _mark_loaded(conn, keys)
    return {"rows": len(stg), "campaigns_new": new, "spend_days": len(spend)}


def _mark_loaded(conn: sa.Connection, keys: pd.DataFrame) -> None:
    db.copy_update(conn, stg_campaign_spend, keys.assign(state="loaded"), key=["batch_id", "row_number"],
                   columns=["state"])
