"""Shared DAG settings: default args, schedules and source assets.

Imported by the DAG files at parse time, so it imports only ``airflow.sdk`` and the standard
library; the registry is read with plain YAML (``paths.source_names``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import (
    Asset,
    AssetAny,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
)

from leadflow.orchestration.alerts import task_failure_callback
from leadflow.orchestration.paths import source_names

START = datetime(2026, 1, 1, tzinfo=UTC)
IMPORT_KINDS = ("inbound_leads", "touches", "campaign_spend")
CRM_KINDS = ("crm_outcomes",)
TAGS = ["leadflow"]


def default_args(retries: int = 2) -> dict[str, Any]:
    """Retries with exponential backoff (1 min, 2 min, … capped at 30 min) and failure alerts."""
    return {
        "owner": "leadflow",
        "retries": retries,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=3),
        "on_failure_callback": task_failure_callback,
    }


def source_asset(name: str) -> Asset:
    """The Asset an import DAG (dags/source_imports.py) updates when source ``name`` landed."""
    return Asset(f"leadflow://sources/{name}")


def schedule(cron: str, kinds: tuple[str, ...]) -> Any:
    """Run on ``cron`` (UTC, data-interval semantics) AND whenever any import Asset of ``kinds``
    is updated; the plain cron timetable when the registry has no such source."""
    timetable = CronDataIntervalTimetable(cron, timezone="UTC")
    assets = [source_asset(n) for n in source_names(kinds)]
    if not assets:
        return timetable
    return AssetOrTimeSchedule(timetable=timetable, assets=AssetAny(*assets))


# Late-run alerts: leadflow.orchestration.lateness (DAG run_deadlines), not Airflow's
# DeadlineAlert, whose queued-at deadline breaks "Clear" in Airflow 3.3 (see lateness.py).
