"""Schema migrations on SQLite and PostgreSQL: upgrades keep every row, head matches the schema.

Rows are written through frozen table shapes (the columns of revision 0001), not through
``leadflow.store.schema``, so these tests keep describing an old warehouse when the schema grows.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadflow.errors import StoreError
from leadflow.store import db, migrations
from leadflow.store.schema import metadata

T0 = datetime(2026, 11, 26, 9, 30)

# Revision 0001 shapes of a few tables, and one row each (values of every stored type).
OLD_ROWS: dict[sa.TableClause, list[dict[str, Any]]] = {
    sa.table("ingest_batches", sa.column("batch_id", sa.Integer), sa.column("source", sa.Text),
             sa.column("kind", sa.Text), sa.column("uri", sa.Text), sa.column("content_hash", sa.Text),
             sa.column("rows_in", sa.Integer), sa.column("rows_landed", sa.Integer),
             sa.column("rows_rejected", sa.Integer), sa.column("status", sa.Text),
             sa.column("business_date", sa.Date), sa.column("loaded_at", sa.DateTime)): [
        {"batch_id": 1, "source": "web", "kind": "inbound_leads", "uri": "leads.csv",
         "content_hash": "h1", "rows_in": 2, "rows_landed": 2, "rows_rejected": 0,
         "status": "processed", "business_date": date(2026, 11, 26), "loaded_at": T0}],
    sa.table("stg_inbound_leads", sa.column("source", sa.Text), sa.column("batch_id", sa.Integer),
             sa.column("row_number", sa.Integer), sa.column("loaded_at", sa.DateTime),
             sa.column("state", sa.Text), sa.column("attributes", sa.JSON)): [
        {"source": "web", "batch_id": 1, "row_number": r, "loaded_at": T0, "state": "loaded",
         "attributes": {"utm": f"u{r}"}} for r in (1, 2)],
    sa.table("people", sa.column("person_id", sa.Integer), sa.column("email_norm", sa.Text),
             sa.column("company_size", sa.BigInteger), sa.column("lifecycle_stage", sa.Text),
             sa.column("cycle", sa.Integer), sa.column("opt_out", sa.Boolean),
             sa.column("do_not_contact", sa.Boolean), sa.column("is_competitor", sa.Boolean),
             sa.column("attributes", sa.JSON), sa.column("created_at", sa.DateTime),
             sa.column("updated_at", sa.DateTime)): [
        {"person_id": p, "email_norm": f"p{p}@acme.test", "company_size": 5_000_000_000 + p,
         "lifecycle_stage": "mql", "cycle": 1, "opt_out": p == 2, "do_not_contact": False,
         "is_competitor": False, "attributes": {"k": [p]}, "created_at": T0, "updated_at": T0}
        for p in (1, 2)],
    sa.table("handoffs", sa.column("handoff_id", sa.Integer), sa.column("person_id", sa.Integer),
             sa.column("cycle", sa.Integer), sa.column("owner_rep", sa.Text),
             sa.column("route_rule", sa.Text), sa.column("route_reason", sa.JSON),
             sa.column("qualified_by", sa.Text), sa.column("score", sa.Float),
             sa.column("run_date", sa.Date), sa.column("handed_off_at", sa.DateTime),
             sa.column("sla_breached", sa.Boolean), sa.column("status", sa.Text)): [
        {"handoff_id": 7, "person_id": 1, "cycle": 1, "owner_rep": "ava", "route_rule": "round_robin",
         "route_reason": {"skipped": []}, "qualified_by": "threshold", "score": 71.5,
         "run_date": date(2026, 11, 26), "handed_off_at": T0, "sla_breached": False,
         "status": "queued"}],
    sa.table("pipeline_runs", sa.column("id", sa.Integer), sa.column("run_id", sa.Text),
             sa.column("job", sa.Text), sa.column("task", sa.Text), sa.column("status", sa.Text),
             sa.column("started_at", sa.DateTime), sa.column("counts", sa.JSON)): [
        {"id": 3, "run_id": "cli:2026-11-26", "job": "cli", "task": "score", "status": "success",
         "started_at": T0, "counts": {"scored": 2}}],
}

# A later revision as a schema change would ship it: a new column on a table with rows (SQLite
# rebuilds the table in batch mode, the riskiest path for existing rows) and a new table.
EXTRA_REVISION = '''
"""test-only revision on top of the real head"""
import sqlalchemy as sa
from alembic import op

revision = "9999test"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as b:
        b.add_column(sa.Column("test_flag", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table("test_extra", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("test_extra")
    with op.batch_alter_table("people") as b:
        b.drop_column("test_flag")
'''


@pytest.fixture
def blank(blank_db_url: str) -> sa.Engine:
    return db.engine(blank_db_url)


@pytest.fixture
def extra_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Add a revision after the real head, so an upgrade has real work even when head is 0001."""
    real_head = migrations.head()
    d = tmp_path / "extra_versions"
    d.mkdir()
    (d / "9999test_extra.py").write_text(EXTRA_REVISION.format(down=real_head))
    monkeypatch.setattr(migrations, "VERSION_LOCATIONS", (*migrations.VERSION_LOCATIONS, d))
    assert migrations.head() == "9999test"
    return real_head


def _fill(eng: sa.Engine) -> None:
    with eng.begin() as c:
        for table, rows in OLD_ROWS.items():
            c.execute(table.insert(), rows)


def _assert_rows_intact(eng: sa.Engine) -> None:
    with eng.connect() as c:
        for table, rows in OLD_ROWS.items():
            order = [col for col in table.c if not isinstance(col.type, sa.JSON)]
            got = [dict(r._mapping) for r in c.execute(sa.select(*table.c).order_by(*order))]
            assert got == rows, table.name


def _drop_version_table(eng: sa.Engine) -> None:
    with eng.begin() as c:
        c.execute(sa.text(f"DROP TABLE {migrations.VERSION_TABLE}"))


@pytest.mark.parametrize("with_extra", [False, True], ids=["real_head", "extra_revision"])
def test_upgrade_from_first_revision_keeps_every_row(blank: sa.Engine, request: pytest.FixtureRequest,
                                                     with_extra: bool) -> None:
    if with_extra:
        request.getfixturevalue("extra_revision")
    migrations.upgrade_to(blank, migrations.BASELINE)
    assert migrations.current(blank) == migrations.BASELINE
    _fill(blank)
    migrations.upgrade_to(blank, "head")
    assert migrations.current(blank) == migrations.head()
    _assert_rows_intact(blank)
    db.require_schema(blank)
    if with_extra:
        with blank.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM people WHERE test_flag = :f"),
                             {"f": False}).scalar() == 2


def test_migrations_at_head_build_exactly_the_schema(blank: sa.Engine) -> None:
    """Every schema change ships a migration: head built by migrations == schema.py."""
    migrations.upgrade_to(blank, "head")
    diff = migrations.diff(blank)
    assert not diff, ("leadflow/store/schema.py differs from the migrations at head; generate one "
                      "with `make migration m=\"what changed\"`:\n" + "\n".join(map(str, diff)))


def test_init_on_fresh_warehouse_is_at_head_and_idempotent(blank: sa.Engine) -> None:
    with pytest.raises(StoreError, match="not initialised.*run `leadflow init`"):
        db.require_schema(blank)
    assert db.init(blank) == sorted(metadata.tables)
    assert db.init(blank) == sorted(metadata.tables)
    assert migrations.current(blank) == migrations.head()
    assert not migrations.diff(blank)
    db.require_schema(blank)


def test_leadflow_init_stamps_and_upgrades_pre_migration_warehouse(
        blank_db_url: str, blank: sa.Engine, extra_revision: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A warehouse made by `metadata.create_all` before migrations: tables, no version table."""
    from leadflow.cli import main
    migrations.upgrade_to(blank, migrations.BASELINE)
    _drop_version_table(blank)
    _fill(blank)
    with pytest.raises(StoreError, match="no schema revision.*run `leadflow init`") as ei:
        db.require_schema(blank)
    assert len(str(ei.value).splitlines()) == 1
    cfg = tmp_path / "leadflow.yaml"
    cfg.write_text(f"sources: []\npaths:\n  data_dir: {tmp_path / 'data'}\n"
                   f"  reports_dir: {tmp_path / 'reports'}\n  lists_dir: {tmp_path / 'lists'}\n")
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", blank_db_url)
    assert main(["init", "--config", str(cfg)]) == 0
    assert migrations.current(blank) == "9999test"
    _assert_rows_intact(blank)
    db.require_schema(blank)


def test_require_schema_behind_says_run_init(blank: sa.Engine, extra_revision: str) -> None:
    migrations.upgrade_to(blank, extra_revision)
    _fill(blank)
    with pytest.raises(StoreError) as ei:
        db.require_schema(blank)
    msg = str(ei.value)
    assert (f"warehouse schema is at revision {extra_revision}, this leadflow needs 9999test: "
            "run `leadflow init`") in msg
    assert len(msg.splitlines()) == 1
    db.init(blank)
    db.require_schema(blank)
    _assert_rows_intact(blank)


def test_unknown_revision_is_one_line_for_require_and_init(blank: sa.Engine) -> None:
    db.init(blank)
    with blank.begin() as c:
        c.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = 'f00dcafe'"))
    for call in (db.require_schema, db.init):
        with pytest.raises(StoreError, match="revision f00dcafe.*does not know") as ei:
            call(blank)
        assert len(str(ei.value).splitlines()) == 1


def test_partial_pre_migration_warehouse_is_refused(blank: sa.Engine) -> None:
    migrations.upgrade_to(blank, migrations.BASELINE)
    _drop_version_table(blank)
    with blank.begin() as c:
        c.execute(sa.text("DROP TABLE models"))
    with pytest.raises(StoreError, match="1 of the first revision's tables missing") as ei:
        db.init(blank)
    assert len(str(ei.value).splitlines()) == 1


def test_version_table_does_not_clash_with_airflow(blank: sa.Engine) -> None:
    """Airflow keeps its own `alembic_version`; sharing a database must not mix them up."""
    with blank.begin() as c:
        c.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        c.execute(sa.text("INSERT INTO alembic_version VALUES ('airflow123')"))
    db.init(blank)
    assert migrations.current(blank) == migrations.head()
    with blank.connect() as c:
        assert c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "airflow123"
    db.require_schema(blank)


def test_diff_names_a_schema_change_without_migration(blank: sa.Engine) -> None:
    """The head-equals-schema check can fail: a column only in schema.py is reported."""
    db.init(blank)
    changed = sa.MetaData()
    for t in metadata.tables.values():
        t.to_metadata(changed)
    changed.tables["people"].append_column(sa.Column("nickname", sa.Text))
    diff = migrations.diff(blank, changed)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "nickname")]


def test_new_migration_command_writes_the_next_revision(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`make migration m=...` autogenerates a revision that brings head to schema.py."""
    import shutil

    from leadflow.store.migrations import new
    versions = tmp_path / "versions"
    shutil.copytree(migrations.VERSION_LOCATIONS[0], versions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "VERSION_LOCATIONS", (versions,))
    assert new.generate("nothing changed") is None
    changed = sa.MetaData()
    for t in metadata.tables.values():
        t.to_metadata(changed)
    changed.tables["people"].append_column(sa.Column("nickname", sa.Text))
    before = migrations.head()
    path = new.generate("people nickname", changed)
    assert path is not None and path.parent == versions
    assert path.name == f"{int(before) + 1:04d}_people_nickname.py"
    assert "nickname" in path.read_text() and migrations.head() == f"{int(before) + 1:04d}"
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrations.upgrade_to(eng, "head")
    assert migrations.diff(eng, changed) == []
    eng.dispose()


def test_concurrent_inits_leave_one_schema(blank: sa.Engine) -> None:
    """Two `leadflow init`s at once on a new warehouse: both succeed, one schema, one revision."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: db.init(blank), range(2)))
    assert results[0] == results[1] == sorted(metadata.tables)
    with blank.connect() as c:
        assert c.execute(sa.text(f"SELECT count(*) FROM {migrations.VERSION_TABLE}")).scalar() == 1
    assert not migrations.diff(blank)
