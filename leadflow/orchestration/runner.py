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


def _add_next_steps(exc: Exception, e: LeadflowError, ctx: Any) -> None:
    """What the failure alert tells the person on call to do next: the failing sources, their
    batches of the day with open quarantine entries, and the command that lists those rows."""
    sources = list((getattr(e, "counts", None) or {}).get("failed_sources") or [])
    if not sources:
        return
    try:
        import sqlalchemy as sa

        from leadflow.store.schema import ingest_batches, quarantine
        b, q = ingest_batches, quarantine
        with ctx.engine.connect() as c:
            batch_ids = sorted(int(x) for x in c.execute(
                sa.select(q.c.batch_id).distinct()
                .join(b, b.c.batch_id == q.c.batch_id)
                .where(q.c.source.in_(sources), q.c.status == "open",
                       b.c.business_date <= ctx.run_date)).scalars())
    except Exception:  # noqa: BLE001 - the alert without batch ids beats no alert
        batch_ids = []
    exc.sources = sources                                   # type: ignore[attr-defined]
    exc.batch_ids = batch_ids[-20:]                         # type: ignore[attr-defined]
    exc.next_command = "; ".join(f"leadflow quarantine list --source {s}"  # type: ignore[attr-defined]
                                 for s in sources)


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
    ctx = None
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
        exc = _failure(e)
        if ctx is not None:
            _add_next_steps(exc, e, ctx)
        raise exc from None
    small = small_counts(counts)
    log.info("leadflow %s %s run_date=%s counts=%s", ctx.job, task, ctx.run_date.isoformat(), small)
    out = {"run_date": ctx.run_date.isoformat(), "run_id": ctx.run_id, "task": task, "counts": small}
    out.update({k: [str(x)[:200] for x in counts.get(k) or []] for k in keep})
    return out


def quality_gate(source: str, context: Mapping[str, Any] | None = None) -> None:
    """The gate of one source the quality step held back: fail this (mapped) task, without
    retry, naming the source and the next command. Nothing downstream waits for it, so the
    other sources' leads are handed off and the run shows a failed ``quality_gate[source]``.
    With the task's ``context`` the alert also lists the source's batches with open quarantine."""
    from leadflow.errors import QualityGateError
    msg = (f"quality gate: source {source!r} is over its fail_share and held back this run (its "
           f"passing rows stay landed, nothing of it is handed off); next: leadflow quarantine list "
           f"--source {source}, fix or discard, then leadflow run --steps quality,load,score,queue,deliver")
    log.error("quality_gate failed: %s", msg)
    err = QualityGateError(msg)
    err.counts = {"failed_sources": [source]}  # type: ignore[attr-defined]  # read by _add_next_steps
    exc = _failure(err)
    if context is not None:
        try:
            _add_next_steps(exc, err, open_run_context(context))
        except Exception as e:  # noqa: BLE001 - the gate must fail with its message regardless
            log.warning("quality_gate: alert details not added (%s)", type(e).__name__)
    raise exc from None


# --------------------------------------------------------------------------- orchestration steps
def previous_day_done(context: Mapping[str, Any], job: str | None = None) -> bool:
    """Short-circuit guard of the daily DAG (see ``ordering``): True when this day may run;
    False (skip the run) for an asset-triggered run whose previous day is not done; otherwise
    fails the task without retry, naming the missing day and the fix."""
    from airflow.sdk.exceptions import AirflowFailException

    from leadflow.orchestration import ordering
    from leadflow.orchestration.dates import _get

    try:
        ctx = open_run_context(context, job)
        if ordering.allow_gap(context):
            log.info("leadflow %s: conf allow_gap, not waiting for the previous day", ctx.run_id)
            return True
        problem = ordering.previous_day_problem(ctx.engine, ctx.job, ctx.run_date)
    except LeadflowError as e:
        raise _failure(e) from None
    if problem is None:
        return True
    run_type = str(getattr(_get(context.get("dag_run"), "run_type"), "value",
                           _get(context.get("dag_run"), "run_type")) or "")
    if run_type == "asset_triggered":
        log.warning("leadflow %s: skipped, %s", ctx.run_id, problem)
        return False
    exc = AirflowFailException(problem)
    exc.error_class = "PreviousDayNotDone"  # type: ignore[attr-defined]  # read by alerts
    raise exc


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


def partitioned(step: str, k: int, n: int) -> tuple[str, StepFn]:
    """The recorded name and the step function of partition ``k`` of ``n`` of ``step`` (score:
    by person id, deliver: by owner rep); the whole step, named plainly, when n=1."""
    from leadflow.score import partition

    part = (k, n) if n > 1 else None

    def _step(ctx: Any) -> dict[str, Any]:
        if step == "score":
            from leadflow.score.step import score_people
            return score_people(ctx, part=part)
        from leadflow.handoff.delivery import deliver
        return deliver(ctx, part=part)

    name = partition.name(step, part)
    _step.__name__ = "step_" + name.replace(":", "_").replace("/", "_of_")
    return name, _step


def run_partition(step: str, part: list[int], context: Mapping[str, Any]) -> dict[str, Any]:
    """The mapped task of partition ``part`` = [k, n] of ``step`` (its map index shows k/n)."""
    from airflow.sdk import get_current_context

    get_current_context()["partition"] = f"{part[0]}/{part[1]}"  # type: ignore[typeddict-unknown-key]
    name, fn = partitioned(step, part[0], part[1])
    return run_task(name, context, fn)


def push_crm_destination(name: str) -> StepFn:
    """A step that pushes to one CRM destination (the unit of work of the mapped push_crm task)."""

    def _step(ctx: Any) -> dict[str, Any]:
        from leadflow import crm
        return crm.push(ctx, name)

    _step.__name__ = f"push_crm_{name}"
    return _step


def alert_crm_problems(result: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Alert (email/Slack, warning) when a CRM push left records rejected or unpushed: the task
    succeeds, since the other records went through, but someone must look at the rejected ones."""
    counts = result.get("counts") or {}
    rejected, failed = int(counts.get("rejected") or 0), int(counts.get("failed") or 0)
    if not (rejected or failed):
        return False
    from leadflow.orchestration.alerts import Alert, _get, notify
    ti = context.get("ti") or context.get("task_instance")
    notify(Alert(kind="warning", dag_id=_get(ti, "dag_id") or "lead_handoff_daily",
                 task_id=result.get("task"), run_date=result.get("run_date"),
                 error_class="CrmPartialFailure",
                 message=f"{rejected} record(s) rejected by the CRM's validation, {failed} not pushed "
                         "(retried by the next run); see `leadflow crm status`",
                 airflow_run_id=_get(ti, "run_id")))
    return True


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


def check_deadlines() -> dict[str, Any]:
    """The ``run_deadlines`` DAG's task: alert late runs (``lateness.check``)."""
    from leadflow import config as cfg
    from leadflow.orchestration import lateness
    from leadflow.orchestration.paths import config_path
    from leadflow.store import db

    try:
        settings = cfg.load(config_path())
        late = lateness.check(db.engine(settings.database_url))
    except LeadflowError as e:
        raise _failure(e) from None
    log.info("leadflow late runs: %d (%s)", len(late), ", ".join(lr.run_id for lr in late))
    return {"late": [lr.run_id for lr in late]}
