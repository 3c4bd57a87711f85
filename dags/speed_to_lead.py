"""
### speed_to_lead

The intraday path for hand-raisers (demo request, contact-sales form, pricing chat): one task,
**intraday**, lands the intraday sources' new records and takes just them through validate →
resolve → score → qualify → route → queue → notify (`leadflow.intraday`), so the assigned rep is
told within a minute, once per handoff, with the SLA counted from the prospect's request.

*Schedule*: the Asset `leadflow://speed_to_lead/events`, updated by an **AssetWatcher**
(`leadflow.orchestration.redis_watch.RedisChannelTrigger`, one asset event per message, always
subscribed) on the Redis pub/sub channel `speed_to_lead.event_channel` (the form receiver
publishes there; the **triggerer** must run), **or** the sweep cron `speed_to_lead.sweep_cron`
(every 5 minutes), which picks up anything an event missed: the work is read from the data, not
from the event. Up to two runs at once: passes take the warehouse's run lock in turn, and one
that starts while another works loads its modules meanwhile. Each pass is a `pipeline_runs` step
(job `speed_to_lead`), listed by `leadflow status`.
Created only when `speed_to_lead.enabled` is true. See docs/operations.md, "Speed to lead".
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from leadflow.orchestration import dagkit
from leadflow.orchestration.speed_to_lead import event_asset, speed_to_lead_settings

DAG_ID = "speed_to_lead"
_STL = speed_to_lead_settings()


def _schedule() -> AssetOrTimeSchedule:
    sweep = CronTriggerTimetable(str(_STL.get("sweep_cron") or "*/5 * * * *"), timezone="UTC")
    asset: Asset = event_asset(_STL)
    return AssetOrTimeSchedule(timetable=sweep, assets=[asset])


if _STL.get("enabled"):
    @dag(
        dag_id=DAG_ID,
        schedule=_schedule(),
        start_date=dagkit.START,
        catchup=False,
        max_active_runs=2,          # a pass started during another loads its modules meanwhile
        tags=[*dagkit.TAGS, "intraday", "handoff"],
        default_args=dict(dagkit.default_args(retries=1), retry_delay=timedelta(seconds=15),
                          execution_timeout=timedelta(minutes=15)),
        doc_md=__doc__,
    )
    def speed_to_lead() -> None:
        @task(doc_md="One intraday pass: land the intraday sources, validate, resolve, score, queue "
                     "the hand-raisers and notify their reps (outbox: exactly once).")
        def intraday() -> dict:
            from leadflow.intraday import airflow_task
            return airflow_task()

        intraday()

    speed_to_lead()
