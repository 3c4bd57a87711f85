"""Query plans of the statements a call sends, on SQLite and PostgreSQL (the plan tests).

Row counts cannot see a scan that happens inside the database; these tests read the plan of
every statement the call sent, with its own parameters, on the same connection.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_PLANNED = ("SELECT", "WITH", "UPDATE", "DELETE")


def plans_of(conn: sa.Connection, run: Any) -> list[list[str]]:
    """Run ``run(conn)``, then return, per statement it sent (executemany batches aside), the
    plan's lines: ``EXPLAIN`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` details on SQLite."""
    sent: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, stmt: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many and stmt.lstrip().upper().startswith(_PLANNED):
            sent.append((stmt, params))
    sa.event.listen(conn, "before_cursor_execute", grab)
    try:
        run(conn)
    finally:
        sa.event.remove(conn, "before_cursor_execute", grab)
    pg = conn.dialect.name == "postgresql"
    cur = conn.connection.dbapi_connection.cursor()     # type: ignore[union-attr]
    try:
        out = []
        for stmt, params in sent:
            cur.execute(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + stmt, params)
            out.append([str(r[0] if pg else r[3]) for r in cur.fetchall()])
        return out
    finally:
        cur.close()
