"""Which day an Airflow run processes: taken from the run itself, never from the wall clock.

Order of precedence:
1. ``dag_run.conf["run_date"]`` (ISO date) — an operator re-running one day by hand;
2. the logical date (scheduled and backfill runs of a ``CronDataIntervalTimetable`` have it equal
   to the data interval start, the classic ``ds``: the run at 05:00 processes the day before;
   a manual run given a logical date D processes D);
3. the data interval start;
4. ``run_after`` — asset-triggered runs in Airflow 3 have no logical date or data interval, so
   they process the day on which they were triggered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from leadflow.errors import ConfigError


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _as_date(v: Any) -> date | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v)
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).date()
    except ValueError:
        raise ConfigError(f"run_date {s[:40]!r} is not an ISO date (YYYY-MM-DD)") from None


def run_date_for(context: Mapping[str, Any]) -> date:
    """The run date for an Airflow task context (or a deadline callback's dag_run dict)."""
    dag_run = context.get("dag_run")
    conf = _get(dag_run, "conf") or {}
    if isinstance(conf, Mapping) and conf.get("run_date"):
        return _as_date(conf["run_date"])  # type: ignore[return-value]
    for v in (context.get("logical_date"), _get(dag_run, "logical_date"),
              context.get("data_interval_start"), _get(dag_run, "data_interval_start"),
              _get(dag_run, "run_after")):
        d = _as_date(v)
        if d is not None:
            return d
    raise ConfigError("cannot tell the run date: the run has no data interval, logical date "
                      "or run_after; pass conf {\"run_date\": \"YYYY-MM-DD\"}")
