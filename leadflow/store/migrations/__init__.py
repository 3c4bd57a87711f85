"""Warehouse schema migrations (Alembic), shipped inside the package and configured in code.

``leadflow init`` runs :func:`upgrade` (as ``airflow db migrate`` does for Airflow); every other
command calls :func:`problem` through ``db.require_schema`` and refuses a warehouse whose revision
is not this leadflow's head. The revision lives in ``leadflow_alembic_version`` so a warehouse
that shares a database with Airflow never touches Airflow's own ``alembic_version``.

New revision after changing ``schema.py``: ``make migration m="what changed"``
(``python -m leadflow.store.migrations.new``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from leadflow.errors import StoreError
from leadflow.store import triggers
from leadflow.store.schema import metadata

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "leadflow_alembic_version"
# Where revisions are read from; tests add a folder with a revision of their own.
VERSION_LOCATIONS: tuple[Path, ...] = (HERE / "versions",)

# The first revision: the schema as `metadata.create_all` built it before migrations existed.
# Frozen here (like the revision itself) to recognise such warehouses: all these tables, no
# version table -> stamp BASELINE, then upgrade.
BASELINE = "0001"
BASELINE_TABLES = frozenset({
    "accounts", "campaign_spend", "campaigns", "erasures", "handoffs", "ingest_batches",
    "lifecycle_events", "match_reviews", "merges", "models", "outcomes", "people",
    "person_records", "pipeline_runs", "quarantine", "scores", "stg_campaign_spend",
    "stg_crm_outcomes", "stg_inbound_leads", "stg_touches", "suppressions", "touches",
})


def config(conn: Connection | None = None, target_metadata: sa.MetaData | None = None) -> Config:
    """An Alembic config without alembic.ini: env.py takes the connection from ``attributes``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations",
                        os.pathsep.join(str(p) for p in VERSION_LOCATIONS).replace("%", "%%"))
    cfg.attributes["connection"] = conn
    cfg.attributes["target_metadata"] = target_metadata if target_metadata is not None else metadata
    return cfg


@functools.lru_cache(maxsize=8)
def _script(locations: tuple[Path, ...]) -> ScriptDirectory:
    return ScriptDirectory(str(HERE), version_locations=[str(p) for p in locations])


def script() -> ScriptDirectory:
    """The revisions this leadflow knows (parsed once per process)."""
    return _script(VERSION_LOCATIONS)


def head() -> str:
    """The revision this leadflow's code expects."""
    heads = script().get_heads()
    if len(heads) != 1:
        raise StoreError(f"leadflow's migrations have {len(heads)} heads ({', '.join(heads)}); "
                         "merge them with `alembic merge`")
    return heads[0]


def _known(rev: str) -> bool:
    try:
        return script().get_revision(rev) is not None
    except CommandError:
        return False


def _current(conn: Connection) -> str | None:
    # Read directly: a MigrationContext logs two INFO lines, and every task checks the revision.
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    heads = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(heads)) if heads else None


def current(eng: Engine | Connection) -> str | None:
    """The warehouse's revision; None when it has no version table (new or pre-migration)."""
    if isinstance(eng, Connection):
        return _current(eng)
    with eng.connect() as c:
        return _current(c)


def _leadflow_tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) & (BASELINE_TABLES | set(metadata.tables))


def _where(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def _unknown(rev: str, where: str) -> str:
    return (f"warehouse schema is at revision {rev}, which this leadflow does not know (made by a "
            f"newer leadflow?): upgrade leadflow, not the warehouse ({where})")


def problem(eng: Engine) -> str | None:
    """Why this leadflow cannot use the warehouse as it is (one line), or None when at head."""
    with eng.connect() as c:
        cur, where = _current(c), _where(c)
        if cur is None:
            if not _leadflow_tables(c):
                return f"warehouse at {where} is not initialised: run `leadflow init`"
            return (f"warehouse at {where} has no schema revision (created before migrations): "
                    "run `leadflow init`")
    want = head()
    if cur == want:
        return None
    if _known(cur):
        return (f"warehouse schema is at revision {cur}, this leadflow needs {want}: "
                f"run `leadflow init` ({where})")
    return _unknown(cur, where)


def _lock(conn: Connection) -> None:
    """Serialise concurrent `leadflow init`s on one warehouse for the whole transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('leadflow_migrations:' "
                             "|| coalesce(current_schema(), '')))"))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")   # the write lock now; others wait (busy timeout)


def context_options(target_metadata: sa.MetaData | None = None) -> dict[str, Any]:
    """How every migration context is configured (here and in env.py)."""
    return {"target_metadata": target_metadata if target_metadata is not None else metadata,
            "version_table": VERSION_TABLE,
            "render_as_batch": True,     # ALTERs SQLite can do (table rebuilds), plain ALTER elsewhere
            "compare_type": True}


def _run(conn: Connection, revision: str, stamp: bool = False) -> None:
    """`alembic upgrade|stamp <revision>` on ``conn``, in its transaction.

    Same steps as ``alembic.command.upgrade`` / ``stamp``, but on the process's parsed revisions
    (the command re-reads every revision file per call; tests create hundreds of warehouses).
    """
    sd = script()

    def steps(rev: Any, _ctx: Any) -> Any:
        return sd._stamp_revs((revision,), rev) if stamp else sd._upgrade_revs(revision, rev)

    try:
        if not stamp:      # SQLite rebuilds a table to alter it: triggers naming it would break that
            triggers.drop(conn)
        with EnvironmentContext(config(conn), sd, fn=steps, destination_rev=revision) as env:
            env.configure(connection=conn, **context_options())
            with env.begin_transaction():
                env.run_migrations()
        if not stamp and sa.inspect(conn).has_table("contact_changes"):
            triggers.create(conn)     # from revision 0019 on (``triggers``)
    except CommandError as e:
        raise StoreError(f"schema migration failed ({_where(conn)}): {str(e).splitlines()[0]}") from None


def upgrade_to(eng: Engine, revision: str = "head") -> None:
    """Plain `alembic upgrade <revision>` in one transaction (tests build old warehouses with it)."""
    with eng.begin() as conn:
        _run(conn, revision)


def upgrade(eng: Engine) -> str:
    """What `leadflow init` does: bring any warehouse to head; returns the revision.

    New (no leadflow table): ``create_all`` + stamp head, as Alembic's docs and ``airflow db
    migrate`` do for an empty database: one step instead of replaying history, and about half
    the client time per warehouse (the test suite creates hundreds).
    test_migrations.py proves migrations at head build exactly ``schema.py``, so both roads
    give the same schema. Made by ``create_all`` before migrations (the first revision's
    tables, no version table): stamp BASELINE, then upgrade. Behind: upgrade. All in one
    transaction, so a failed migration leaves the warehouse as it was (on PostgreSQL; SQLite's
    table rebuilds are transactional too).
    """
    want = head()
    try:
        with eng.begin() as conn:
            _lock(conn)
            where = _where(conn)
            cur = _current(conn)
            if cur is None:
                present = _leadflow_tables(conn)
                if present:
                    missing = sorted(BASELINE_TABLES - present)
                    if missing:
                        raise StoreError(
                            f"warehouse at {where} has leadflow tables but no schema revision, and "
                            f"{len(missing)} of the first revision's tables missing "
                            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); "
                            "restore it or start from an empty database")
                    _run(conn, BASELINE, stamp=True)
                else:                   # new: build head directly, as `airflow db migrate` does
                    metadata.create_all(conn)
                    triggers.create(conn)       # not in the metadata: migration 0019 makes them too
                    _run(conn, want, stamp=True)
                    return want
            elif cur != want and not _known(cur):
                raise StoreError(_unknown(cur, where))
            if cur != want:
                _run(conn, want)
    except SQLAlchemyError as e:
        first = str(getattr(e, "orig", e)).strip().splitlines()
        raise StoreError(f"schema upgrade to {want} failed: {first[0] if first else type(e).__name__}") from None
    return want


def diff(eng: Engine, target: sa.MetaData | None = None) -> list[Any]:
    """Differences between the warehouse and ``schema.py`` (autogenerate's view); [] when equal."""
    with eng.connect() as c:
        mc = MigrationContext.configure(c, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return compare_metadata(mc, target if target is not None else metadata)
