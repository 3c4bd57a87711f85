"""
### leadflow source imports

One import DAG per enabled source in the registry (`sources:` in `leadflow.yaml`), generated at
parse time from the YAML alone (no database, no pandas), each on the source's own `schedule`.
Its single task lands the source's new deliveries (`leadflow.ingest.land`) and, on success,
updates the Asset `leadflow://sources/<name>` that `lead_handoff_daily` (or
`conversion_feedback`, for CRM outcomes) is scheduled on.

Re-runs are safe: a batch is unique per (source, content hash), so landing the same delivery
again lands nothing. A delivery that is rejected fails the task with a one-line message naming
the source, file, row and field.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, task

from leadflow.orchestration import dagkit
from leadflow.orchestration.paths import enabled_sources


def registered_sources() -> list[dict[str, Any]]:
    """Enabled sources as plain dicts (name, kind, owner, schedule), read with YAML only."""
    return enabled_sources()


def import_dag(src: dict[str, Any]) -> Any:
    name = src["name"]
    dag_id = f"import_{name}"
    schedule = src.get("schedule", "@daily")

    @dag(
        dag_id=dag_id,
        schedule=schedule or None,
        start_date=dagkit.START,
        catchup=False,
        max_active_runs=1,
        tags=[*dagkit.TAGS, "import", str(src.get("kind", "unknown"))],
        default_args=dagkit.default_args(),
        doc_md=f"Imports source **{name}** (kind `{src.get('kind')}`, owner {src.get('owner', '?')}) "
               f"on schedule `{schedule}`; updates Asset `leadflow://sources/{name}`.\n\n" + __doc__,
    )
    def _import() -> None:
        @task(task_id="land", outlets=[Asset(f"leadflow://sources/{name}")],
              doc_md=f"Land new deliveries of `{name}` into `stg_{src.get('kind')}`.")
        def land(**context: Any) -> dict:
            from leadflow.orchestration.runner import run_task
            return run_task(f"ingest:{name}", context, _strict_ingest(name), job=dag_id)

        land()

    return _import()


def _strict_ingest(name: str) -> Any:
    """Land one source; a rejected delivery fails the task with its one-line message."""

    def _step(ctx: Any) -> dict[str, Any]:
        from leadflow import ingest
        from leadflow.errors import InputError

        summary = ingest.summarise(ingest.land(ctx, [name]))
        if summary["errors"]:
            more = f" (and {len(summary['errors']) - 1} more)" if len(summary["errors"]) > 1 else ""
            raise InputError(summary["errors"][0] + more)
        return summary

    _step.__name__ = f"ingest_{name}"
    return _step


for _src in registered_sources():
    globals()[f"import_{_src['name']}"] = import_dag(_src)
