"""What a DAG task does: open the run's context, run one recorded step, log and return its counts.

Tasks exchange only small dicts of counts (XCom), never data. A ``LeadflowError`` becomes a task
failure carrying leadflow's one-line message (``raise ... from None``: no stack trace of ours).
Data problems (bad input, quality gate, bad config) fail without retrying, since a retry cannot
fix them; an unreachable warehouse (``StoreError``) and unexpected errors are retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from leadflow.errors import LeadflowError, StoreError

log = logging.getLogger("leadflow.orchestration")

StepFn = Callable[[Any], dict[str, Any]]


def _failure(e: LeadflowError) -> Exception:
    """The Airflow exception for a LeadflowError: same one-line message (scrubbed of anything that
    looks like PII or a secret, as a second defence: it lands in task logs), original class kept."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from leadflow.scrub import scrub

    base = AirflowException if isinstance(e, StoreError) else AirflowFailException
    exc = base(scrub(e, 2000))
    exc.error_class = type(e).__name__  # type: ignore[attr-defined]  # read by alerts
    return exc


def open_run_context(context: Mapping[str, Any], job: str | None = None) -> Any:
    """A RunContext for the Airflow run's date (see ``dates.run_date_for``), job = DAG id."""
    from leadflow.context import open_context
    from leadflow.orchestration.dates import run_date_for
    from leadflow.orchestration.paths import config_path

    dag = context.get("dag")
    ti = context.get("ti")
    job = job or getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None) or "airflow"
    return open_context(str(config_path()), run_date_for(context), job=job)


def small_counts(counts: Mapping[str, Any], depth: int = 2) -> dict[str, Any]:
    """Numbers and short strings only (nested one level), for XCom and log lines."""
    out: dict[str, Any] = {}
    for k, v in counts.items():
        if isinstance(v, bool) or v is None or isinstance(v, (int, float)):
            out[str(k)] = v
        elif isinstance(v, str):
            out[str(k)] = v[:200]
        elif isinstance(v, Mapping) and depth > 1:
            out[str(k)] = small_counts(v, depth - 1)
        elif isinstance(v, (list, tuple)):
            out[str(k)] = len(v)
    return out


def run_task(task: str, context: Mapping[str, Any], fn: StepFn | None = None,
             job: str | None = None, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run step ``task`` (default ``leadflow.pipeline.step_<task>``) for this Airflow run.

    Records it in ``pipeline_runs`` (via ``leadflow.monitor.run_step``), logs the counts and
    returns ``{"run_date", "run_id", "task", "counts"}`` for XCom, plus the ``keep`` keys of the
    counts unchanged (short lists of names, e.g. the quality step's ``held`` sources).
    """
    try:
        if fn is None:
            from leadflow import pipeline
            fn = getattr(pipeline, f"step_{task}")
        from leadflow.monitor import run_step

        ctx = open_run_context(context, job)
        counts = run_step(ctx, task, fn)
    except LeadflowError as e:
        from leadflow.scrub import scrub
        log.error("%s failed: %s: %s", task, type(e).__name__, scrub(e, 2000))
        raise _failure(e) from None
    small = small_counts(counts)
    log.info("leadflow %s %s run_date=%s counts=%s", ctx.job, task, ctx.run_date.isoformat(), small)
    out = {"run_date": ctx.run_date.isoformat(), "run_id": ctx.run_id, "task": task, "counts": small}
    out.update({k: [str(x)[:200] for x in counts.get(k) or []] for k in keep})
    return out


def quality_gate(source: str) -> None:
    """The gate of one source the quality step held back: fail this (mapped) task, without
    retry, naming the source and the next command. Nothing downstream waits for it, so the
    other sources' leads are handed off and the run shows a failed ``quality_gate[source]``."""
    from leadflow.errors import QualityGateError
    msg = (f"quality gate: source {source!r} is over its fail_share and held back this run (its "
           f"passing rows stay landed, nothing of it is handed off); next: leadflow quarantine list "
           f"--source {source}, fix or discard, then leadflow run --steps quality,load,score,queue,deliver")
    log.error("quality_gate failed: %s", msg)
    raise _failure(QualityGateError(msg)) from None


# --------------------------------------------------------------------------- orchestration steps
def list_sources(kinds: tuple[str, ...]) -> list[str]:
    """Enabled, validated source names of the given kinds (for dynamic task mapping)."""
    from leadflow import config as cfg
    from leadflow.orchestration.paths import config_path

    try:
        settings = cfg.load(config_path())
    except LeadflowError as e:
        raise _failure(e) from None
    names = [s.name for s in settings.sources if s.enabled and s.kind in kinds]
    log.info("leadflow sources of kinds %s: %d (%s)", ",".join(kinds), len(names), ",".join(names))
    return names


def ingest_source(name: str) -> StepFn:
    """A step that lands one source (the unit of work of the mapped ingest task)."""

    def _step(ctx: Any) -> dict[str, Any]:
        from leadflow import ingest
        return ingest.summarise(ingest.land(ctx, [name]))

    _step.__name__ = f"ingest_{name}"
    return _step


def step_train(ctx: Any) -> dict[str, Any]:
    """Weekly retraining: ``leadflow.score.train_model`` trains on the outcomes known at
    ``ctx.as_of``, registers the candidate and promotes it only if it beats the current model on
    the same holdout; with too few conversions it keeps the rules and says so (status rules_only)."""
    from leadflow import score
    out = score.train_model(ctx)
    if out.get("message"):
        log.info("leadflow model_retrain: %s", out["message"])
    return out


def write_summary(context: Mapping[str, Any], job: str | None = None) -> dict[str, Any]:
    """Write the HTML run summary of this Airflow run (not itself a recorded step)."""
    from leadflow.orchestration import summary

    try:
        ctx = open_run_context(context, job)
        path = summary.write(ctx.engine, ctx.run_id, ctx.settings.reports_dir)
    except LeadflowError as e:
        raise _failure(e) from None
    log.info("leadflow run summary for %s: %s", ctx.run_id, path)
    return {"run_id": ctx.run_id, "summary": str(path)}
