"""Run a DAG end to end in-process with ``dag.test()`` for one or more run dates.

Used by ``make demo`` (through Airflow, no scheduler needed) and the end-to-end tests:

    python -m leadflow.orchestration.dagtest lead_handoff_daily 2026-11-24 2026-11-25

Needs an initialised Airflow metadata database (``airflow db migrate``) in ``$AIRFLOW_HOME``.
Each date runs with logical date ``<date>T05:00Z`` (the daily cron), so the run date is that day.
Prints one JSON line per run: the DAG run state and every task instance's state. The DAG run's
start time is the real one (see ``real_start``), so the UI shows how long the run really took.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any


def run(dag_id: str, dates: list[date], dags_folder: str | None = None) -> list[dict[str, Any]]:
    from airflow.dag_processing.dagbag import DagBag

    folder = dags_folder or os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or str(
        Path(__file__).resolve().parents[2] / "dags")
    bag = DagBag(folder)
    if dag_id not in bag.dags:
        errors = "; ".join(f"{Path(k).name}: {v.strip().splitlines()[-1]}" for k, v in bag.import_errors.items())
        raise SystemExit(f"error: DAG {dag_id!r} not found in {folder} {errors}")
    dag = bag.dags[dag_id]
    # Airflow 3.3.2's dag.test() looks deadline alerts up by database id, but its in-memory copy
    # of the DAG carries them serialised (AttributeError: 'dict' object has no attribute 'hex'
    # when the run succeeds). A synchronous test run has no use for a deadline, so drop it here;
    # the scheduler keeps using the DAG's deadline alerts.
    dag.deadline = None
    out = []
    for d in dates:
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        dr = dag.test(logical_date=datetime(d.year, d.month, d.day, 5, tzinfo=UTC))
        start, end = real_start(dr.id, started)
        tis = {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
               for ti in dr.get_task_instances()}
        out.append({"dag_id": dag_id, "run_date": d.isoformat(), "state": str(dr.state),
                    "tasks": tis, "seconds": round(time.perf_counter() - t0, 2),
                    "airflow_seconds": round((end - start).total_seconds(), 2) if start and end else None})
    return out


def real_start(dag_run_id: int, started: datetime) -> tuple[datetime | None, datetime | None]:
    """Give the DAG run its real start time; returns the (start, end) the UI now shows.

    Airflow 3.3's ``dag.test()`` stamps the run's ``start_date`` with its *logical* date
    (``get_or_create_dagrun(start_date=logical_date or run_after)``) while ``end_date`` is the
    real end, so a test run of a past day showed a duration of days in the Airflow UI. The
    logical date stays where it belongs, on the run's ``logical_date`` and data interval."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.get(DagRun, dag_run_id)
        if row is None:
            return None, None
        if row.start_date is None or row.start_date < started:
            row.start_date = started
        return row.start_date, row.end_date


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = run(argv[0], [date.fromisoformat(a) for a in argv[1:]])
    for r in results:
        print("DAGTEST " + json.dumps(r), flush=True)
    return 0 if all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
