"""
### run_deadlines

Late-run alerts for leadflow's DAGs: every 15 minutes, any run whose current attempt started
more than its limit ago and has not finished (lead_handoff_daily 4 h, conversion_feedback 3 h,
model_retrain 6 h) gets one `breached` row in `pipeline_runs` and one email/Slack alert.

Replaces Airflow's queued-at `DeadlineAlert`, which makes "Clear" fail in Airflow 3.3; a failed
run has no upcoming deadline here, and a cleared run starts a fresh clock
(`leadflow/orchestration/lateness.py`, docs/operations.md).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from leadflow.orchestration import dagkit

DAG_ID = "run_deadlines"


@dag(
    dag_id=DAG_ID,
    schedule="*/15 * * * *",
    start_date=dagkit.START,
    catchup=False,
    max_active_runs=1,
    tags=[*dagkit.TAGS, "monitoring"],
    default_args=dagkit.default_args(retries=1),
    doc_md=__doc__,
)
def run_deadlines() -> None:
    @task(doc_md="Record and alert each newly late run once (reads the run records only; "
                 "takes no run lock, so a long step never delays it).")
    def check() -> dict:
        from leadflow.orchestration.runner import check_deadlines
        return check_deadlines()

    check()


run_deadlines()
