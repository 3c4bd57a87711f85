"""Which staging rows have passed the quality step: a row's own state, or its batch's mark.

The quality step does not rewrite every row it validates (at a million rows that rewrite was
the step's largest cost: every page of the staging table, and its state index, written
again). It moves the failing rows to ``quarantined`` and marks each validated batch
(``ingest_batches.validated_at``): a row of a validated batch that is still ``landed`` has
passed. Rows set ``passed`` one by one (a released quarantine entry, warehouses validated
before the mark existed) have passed too. Everything that reads or moves passed rows uses
``passed`` / ``passed_sql``; the next step moves them on (``loaded``, ...) as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.store.schema import ingest_batches


def validated_batches() -> sa.Select:
    """The ids of the batches the quality step has validated."""
    return sa.select(ingest_batches.c.batch_id).where(ingest_batches.c.validated_at.is_not(None))


def passed(t: sa.Table) -> sa.ColumnElement[bool]:
    """A staging table's passed rows (see the module's docstring)."""
    return sa.or_(t.c.state == "passed",
                  sa.and_(t.c.state == "landed", t.c.batch_id.in_(validated_batches())))


def unvalidated(t: sa.Table) -> sa.ColumnElement[bool]:
    """A staging table's rows still waiting for the quality step."""
    return sa.and_(t.c.state == "landed", t.c.batch_id.not_in(validated_batches()))


def passed_sql(table_name: str) -> str:
    """``passed`` as SQL text on ``table_name`` (e.g. a guard in ``frames.copy_update``)."""
    t = '"' + table_name.replace('"', '""') + '"'
    return (f"({t}.state = 'passed' OR ({t}.state = 'landed' AND {t}.batch_id IN "
            f"(SELECT batch_id FROM ingest_batches WHERE validated_at IS NOT NULL)))")


def state_of(t: sa.Table) -> sa.ColumnElement[Any]:
    """Each row's state as readers see it (``landed`` rows of validated batches: ``passed``)."""
    return sa.case((passed(t), "passed"), else_=t.c.state)


def mark_validated(conn: Connection, batch_ids: Sequence[int], at: datetime) -> None:
    """Mark batches validated (their rows still ``landed`` have passed); a mark is kept."""
    ids = [int(b) for b in batch_ids]
    for i in range(0, len(ids), 1000):
        conn.execute(sa.update(ingest_batches).where(ingest_batches.c.batch_id.in_(ids[i:i + 1000]),
                                                     ingest_batches.c.validated_at.is_(None))
                     .values(validated_at=at))
