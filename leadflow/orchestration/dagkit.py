"""Shared DAG settings: default args, schedules, source assets and deadline alerts.

Imported by the DAG files at parse time, so it imports only ``airflow.sdk`` and the standard
library; the registry is read with plain YAML (``paths.source_names``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import (  # type: ignore[attr-defined]  # lazily exported; not in airflow.sdk's stubs
    Asset,
    AssetAny,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    SyncCallback,
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


def deadline(dag_id: str, within: timedelta) -> DeadlineAlert:
    """Alert (email/Slack + a ``breached`` row in pipeline_runs) when a run of ``dag_id`` is not
    finished ``within`` of being queued — Airflow 3's replacement for SLAs."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=within,
        callback=SyncCallback("leadflow.orchestration.alerts.deadline_missed",
                              kwargs={"dag_id": dag_id, "within": _human(within)}),
    )


def _human(td: timedelta) -> str:
    mins = int(td.total_seconds() // 60)
    return f"{mins // 60} h {mins % 60} min" if mins >= 60 else f"{mins} min"
