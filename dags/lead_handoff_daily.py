"""
### lead_handoff_daily

The daily handoff from marketing to sales, one run per day (the run date is the data interval's
day; re-running a day reproduces it exactly).

**previous_day** (day D waits for day D−1) → **ingest** (one mapped task per lead, touch and
spend source) → **quality** (Great Expectations suites; failing rows to quarantine) → **load**
(clean, resolve identities, attach touches) → **score** (one mapped task per partition of the
people, `partitions.score`) → **queue** (qualify, suppress, route, enqueue once per person) →
**deliver** (daily lead lists, one mapped task per partition of the reps, `partitions.deliver`)
and, beside it, **push_crm** (one mapped task per enabled CRM destination in `crm.destinations`:
upsert to HubSpot / Salesforce through the CRM outbox) → **summary** (HTML run summary in
`reports/runs/`). The partitions and CRM destinations come from `leadflow.yaml` when the DAG is
parsed (a change shows after the next parse); the sources are read by the run.
Files shared between tasks live under `storage.url` (docs/operations.md).

A source over its quality fail threshold is held back by the quality step (nothing of it is
loaded or handed off) and fails its own **quality_gate[source]** task, which nothing waits
for: every other source's leads flow on and the run ends successful with a red gate task
(success with warnings). **data_docs** renders the Data Docs from the run's GX results beside
the handoff.

*Schedule*: daily at 05:00 UTC for the previous day, **and** whenever an import DAG
(`dags/source_imports.py`) updates a source Asset `leadflow://sources/<name>`.
*Failures*: retried with exponential backoff; bad data fails at once with leadflow's one-line
message; alerts go by email (and Slack if configured) without PII. A run not finished within
4 hours of its first step raises a late-run alert (DAG `run_deadlines`; see docs/operations.md).
"""

from __future__ import annotations

from airflow.sdk import dag, task, teardown

from leadflow.orchestration import dagkit
from leadflow.orchestration.paths import crm_destination_names, partitions

DAG_ID = "lead_handoff_daily"


@dag(
    dag_id=DAG_ID,
    schedule=dagkit.schedule("0 5 * * *", dagkit.IMPORT_KINDS),
    start_date=dagkit.START,
    catchup=False,
    max_active_runs=1,
    tags=[*dagkit.TAGS, "daily", "handoff"],
    default_args=dagkit.default_args(),
    doc_md=__doc__,
)
def lead_handoff_daily() -> None:
    @task.short_circuit(doc_md="Days run in order: day D starts only when day D-1 succeeded (or "
                               "it is the first day). Otherwise fails with the fix; an "
                               "asset-triggered run is skipped instead. docs/operations.md.")
    def previous_day(**context) -> bool:
        from leadflow.orchestration.runner import previous_day_done
        return previous_day_done(context)

    @task(doc_md="Names of the enabled lead, touch and spend sources in `leadflow.yaml`; "
                 "the ingest task is mapped over them.")
    def sources() -> list[str]:
        from leadflow.orchestration.runner import list_sources
        return list_sources(dagkit.IMPORT_KINDS)

    @task(map_index_template="{{ source_name }}",
          doc_md="Land one source's new files or records (idempotent: a batch already landed "
                 "loads nothing). One mapped instance per source, so workers share the work.")
    def ingest(source: str, **context) -> dict:
        from airflow.sdk import get_current_context

        from leadflow.orchestration.runner import ingest_source, run_task
        get_current_context()["source_name"] = source
        return run_task(f"ingest:{source}", context, ingest_source(source))

    @task(trigger_rule="none_failed",
          doc_md="Validate landed rows with Great Expectations (suites in `expectations/`); "
                 "failing rows go to quarantine with reasons. A source above its fail threshold "
                 "is held back (see quality_gate); the others flow on.")
    def quality(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("quality", context, keep=("held",))

    @task(doc_md="The sources the quality step held back (names only), for quality_gate.")
    def held_sources(checked: dict) -> list[str]:
        return list(checked.get("held") or [])

    @task(map_index_template="{{ source_name }}",
          doc_md="One per source the quality step held back: fails (AirflowFailException: no "
                 "retry) naming the source "
                 "and the next command. Nothing downstream waits for it, so the run ends "
                 "successful with this task red: success with warnings.")
    def quality_gate(source: str) -> None:
        from airflow.sdk import get_current_context

        from leadflow.orchestration.runner import quality_gate as gate
        context = get_current_context()
        context["source_name"] = source
        gate(source, context)

    @task(trigger_rule="all_done",
          doc_md="Render the Data Docs (`reports/data_docs/index.html`) from this run's Great "
                 "Expectations results; beside the handoff, so it never delays it.")
    def data_docs(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("data_docs", context)

    @task(doc_md="Load passed rows: campaign spend, clean and resolve people and accounts, "
                 "attach touches.")
    def load(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("load", context)

    @task(map_index_template="{{ partition }}",
          doc_md="Score the people of one partition (a hash of the person id) for the run date "
                 "(rules, and the promoted model if any). Partitions are disjoint and together "
                 "cover everyone, so workers share the work; identity stays one task.")
    def score(part: list[int], **context) -> dict:
        from leadflow.orchestration.runner import run_partition
        return run_partition("score", part, context)

    @task(doc_md="Qualify MQLs, apply suppressions, route to reps and queue each person once.")
    def queue(**context) -> dict:
        from leadflow.orchestration.runner import run_task
        return run_task("queue", context)

    @task(map_index_template="{{ partition }}",
          doc_md="Write (and, if enabled, email) the daily lead lists of the reps in one "
                 "partition (a hash of the list's name); partitions are disjoint and together "
                 "cover every rep.")
    def deliver(part: list[int], **context) -> dict:
        from leadflow.orchestration.runner import run_partition
        return run_partition("deliver", part, context)

    @task(map_index_template="{{ crm_destination }}",
          doc_md="Push the run date's handoffs and due withdrawals to one CRM destination through "
                 "the CRM outbox (idempotent upserts; a retry or Clear never creates a second "
                 "record; rejected records are a warning, not a failure).")
    def push_crm(destination: str, **context) -> dict:
        from airflow.sdk import get_current_context

        from leadflow.orchestration.runner import alert_crm_problems, push_crm_destination, run_task
        get_current_context()["crm_destination"] = destination
        out = run_task(f"push_crm:{destination}", context, push_crm_destination(destination))
        alert_crm_problems(out, context)
        return out

    @teardown
    @task(doc_md="Write the HTML run summary to `reports/runs/<run_id>.html`; runs even when "
                 "a step failed, without changing the run's outcome.")
    def summary(**context) -> dict:
        from leadflow.orchestration.runner import write_summary
        return write_summary(context)

    names = sources()
    previous_day() >> names
    landed = ingest.expand(source=names)
    checked = quality()
    # mapped over literal lists read from leadflow.yaml at parse time (paths.partitions,
    # paths.crm_destination_names): no task process per run just to list them
    queued = landed >> checked >> load() >> score.expand(part=partitions("score")) >> queue()
    pushed = push_crm.expand(destination=crm_destination_names())
    done = summary()
    queued >> deliver.expand(part=partitions("deliver")) >> done
    queued >> pushed >> done
    gates = quality_gate.expand(source=held_sources(checked))
    gates >> data_docs()


lead_handoff_daily()
