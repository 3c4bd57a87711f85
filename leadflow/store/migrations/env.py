"""Alembic environment for the warehouse, driven from code (``leadflow.store.migrations``).

The caller passes an open connection in ``config.attributes["connection"]``, so migrations run
in its transaction, on its search_path (PostgreSQL) and with its engine settings. Run through
the ``alembic`` command instead (alembic.ini), the warehouse URL comes from
``LEADFLOW_DATABASE_URL`` or ``sqlalchemy.url``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from leadflow.store.migrations import context_options


def _configure(conn: sa.Connection) -> None:
    context.configure(connection=conn,
                      **context_options(context.config.attributes.get("target_metadata")))
    with context.begin_transaction():
        context.run_migrations()


conn = context.config.attributes.get("connection")
if conn is not None:
    _configure(conn)
else:
    url = os.environ.get("LEADFLOW_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set LEADFLOW_DATABASE_URL (or sqlalchemy.url) to the warehouse")
    with sa.create_engine(url).begin() as c:
        _configure(c)
