"""
### conversion_feedback

Closes the loop from sales back to marketing, daily: **ingest** the CRM outcome sources (one
mapped task per source) → **quality** → **feedback** (match outcomes to handoffs, move people
through the lifecycle, record training examples) → **report** (funnel, ROI and attribution marts
from `sql/`, HTML report and CSV extracts) → **summary**.

*Schedule*: daily at 07:00 UTC for the previous day, and whenever a CRM import Asset
`leadflow://sources/<name>` is updated. Retries with exponential backoff; failure and deadline
(3 hours) alerts by email/Slack without PII.
"""

from __future__ import annotations

from airflow.sdk import dag, task, teardown

from leadflow.orchestration import dagkit

DAG_ID = "conversion_feedback"


@dag(
    dag_id=DAG_ID,
    schedule=dagkit.schedule("0 7 * * *", dagkit.CRM_KINDS),
    start_date=dagkit.START,
    catchup=False,
    max_active_runs=1,
    tags=[*dagkit.TAGS, "daily", "feedback"],
    default_args=dagkit.default_args(),
    doc_md=__doc__,
)
def conversion_feedback() -> None:
    @task(doc_md="Names of the enabled CRM outcome sources in `leadflow.yaml`.")
    def sources() -> list[str]:
        from leadflow.orchestration.runner import list_sources
        return list_sources(dagkit.CRM_KINDS)

    @task(map_index_template="{{ source_name }}",
          doc_md="Land one CRM outcome source (idempotent per batch).")
    def ingest(source: str, **context) -> dict:
        from airflow.sdk import get_current_context

        from leadflow.orchestration.runner import ingest_source, run_task
        get_current_context()["source_name"] = source
        return run_task(f"ingest:{source}", context, ingest_source(source))

    @task(trigger_rule="none_failed",
          doc_md="Validate landed outcome rows; failing rows go to quarantine with reasons.")
    def quality(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("quality", context)

    @task(doc_md="Apply outcomes: match to handoffs, lifecycle transitions, training examples.")
    def feedback(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("feedback", context)

    @task(doc_md="Build the marketing report and mart extracts for the run date.")
    def report(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("report", context)

    @teardown
    @task(doc_md="Write the HTML run summary to `reports/runs/`.")
    def summary(**context) -> dict:
        from leadflow.orchestration.runner import write_summary
        return write_summary(context)

    landed = ingest.expand(source=sources())
    landed >> quality() >> feedback() >> report() >> summary()


conversion_feedback()
