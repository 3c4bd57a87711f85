"""
### model_retrain

Weekly retraining of the lead-scoring model on the outcomes in the warehouse (point-in-time
features, time-based holdout). A new model is **promoted only if it beats the current one on
the same holdout**; with too few conversions the pipeline keeps the rules and says so.

*Schedule*: Mondays 06:00 UTC, for the week before. Retries with exponential backoff; failure
and deadline (6 hours) alerts by email/Slack without PII.
"""

from __future__ import annotations

from airflow.sdk import dag, task, teardown

from leadflow.orchestration import dagkit

DAG_ID = "model_retrain"


@dag(
    dag_id=DAG_ID,
    schedule=dagkit.schedule("0 6 * * 1", ()),
    start_date=dagkit.START,
    catchup=False,
    max_active_runs=1,
    tags=[*dagkit.TAGS, "weekly", "model"],
    default_args=dagkit.default_args(retries=1),
    doc_md=__doc__,
)
def model_retrain() -> None:
    @task(doc_md="Train candidates, evaluate on the holdout and promote only a better model.")
    def train(**context) -> dict:
        from leadflow.orchestration.runner import run_task, step_train
        return run_task("train", context, step_train)

    @teardown
    @task(doc_md="Write the HTML run summary to `reports/runs/`.")
    def summary(**context) -> dict:
        from leadflow.orchestration.runner import write_summary
        return write_summary(context)

    train() >> summary()


model_retrain()
