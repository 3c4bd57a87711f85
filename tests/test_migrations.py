"""Schema migrations on SQLite and PostgreSQL: upgrades keep every row, head matches the schema.

Old warehouses are filled through the table shapes reflected at revision 0001 (every table, every
column, two rows each), not through ``leadflow.store.schema``, so these tests keep describing an
old warehouse while the schema grows, and a later revision that would lose or reject existing
rows (a NOT NULL column without default, a table rebuild that drops data) fails them.
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


def _value(col: sa.Column, i: int) -> Any:
    """Row i's value for a column: equal across tables, so foreign keys to row i hold."""
    t = col.type
    if isinstance(t, sa.JSON):
        return {"k": [i], "s": f"v{i}"}
    if isinstance(t, sa.Boolean):
        return i == 1
    if isinstance(t, sa.DateTime):
        return datetime(2026, 11, 26, 9, i, 30)
    if isinstance(t, sa.Date):
        return date(2026, 11, i)
    if isinstance(t, sa.BigInteger):
        return 5_000_000_000 + i
    if isinstance(t, sa.Integer):
        return i
    if isinstance(t, (sa.Float, sa.Numeric)):
        return i + 0.5
    if isinstance(t, sa.String):
        return f"v{i}"
    raise AssertionError(f"no test value for {col.table.name}.{col.name} ({t!r})")


def _fill(eng: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Two rows in every table of the first revision, as it is in the warehouse now."""
    md = sa.MetaData()
    with eng.begin() as c:
        gone = {n for n in MOVED if not sa.inspect(c).has_table(n)}    # already replaced by a later revision
        md.reflect(c, only=sorted(migrations.BASELINE_TABLES - gone))
        written = {}
        for t in md.sorted_tables:
            rows = [{col.name: _value(col, i) for col in t.c} for i in (1, 2)]
            c.execute(t.insert(), rows)
            written[t.name] = rows
    assert set(written) == migrations.BASELINE_TABLES - gone
    return written


# Tables a later revision replaced: where their rows went (as a query giving the old columns kept).
MOVED = {
    "erasures": "SELECT value_hash AS email_hash, erased_at FROM tombstones "   # 0003: person_id dropped
                "WHERE kind = 'email_sha256_legacy' ORDER BY value_hash",
}


def _assert_rows_intact(eng: sa.Engine, written: dict[str, list[dict[str, Any]]]) -> None:
    md = sa.MetaData()
    with eng.connect() as c:
        moved = {n: q for n, q in MOVED.items() if n in written and not sa.inspect(c).has_table(n)}
        for name, query in moved.items():
            got = [dict(r._mapping) for r in c.execute(sa.text(query))]
            kept = [{k: r[k] for k in got[0]} for r in sorted(written[name], key=lambda r: r["email_hash"])]
            got = [{**r, "erased_at": r["erased_at"] if isinstance(r["erased_at"], datetime)
                    else datetime.fromisoformat(r["erased_at"])} for r in got]
            assert got == kept, name
        written = {n: rows for n, rows in written.items() if n not in moved}
        md.reflect(c, only=sorted(written))
        for name, rows in written.items():
            cols = [md.tables[name].c[k] for k in rows[0]]
            order = [col for col in cols if not isinstance(col.type, sa.JSON)]
            got = [dict(r._mapping) for r in c.execute(sa.select(*cols).order_by(*order))]
            assert got == rows, name


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
    written = _fill(blank)
    migrations.upgrade_to(blank, "head")
    assert migrations.current(blank) == migrations.head()
    _assert_rows_intact(blank, written)
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
    written = _fill(blank)
    with pytest.raises(StoreError, match="no schema revision.*run `leadflow init`") as ei:
        db.require_schema(blank)
    assert len(str(ei.value).splitlines()) == 1
    cfg = tmp_path / "leadflow.yaml"
    cfg.write_text(f"sources: []\npaths:\n  data_dir: {tmp_path / 'data'}\n"
                   f"  reports_dir: {tmp_path / 'reports'}\n  lists_dir: {tmp_path / 'lists'}\n")
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", blank_db_url)
    assert main(["init", "--config", str(cfg)]) == 0
    assert migrations.current(blank) == "9999test"
    _assert_rows_intact(blank, written)
    db.require_schema(blank)


def test_require_schema_behind_says_run_init(blank: sa.Engine, extra_revision: str) -> None:
    migrations.upgrade_to(blank, extra_revision)
    written = _fill(blank)
    with pytest.raises(StoreError) as ei:
        db.require_schema(blank)
    msg = str(ei.value)
    assert (f"warehouse schema is at revision {extra_revision}, this leadflow needs 9999test: "
            "run `leadflow init`") in msg
    assert len(msg.splitlines()) == 1
    db.init(blank)
    db.require_schema(blank)
    _assert_rows_intact(blank, written)


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
