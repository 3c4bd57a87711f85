"""Shared fixtures: a warehouse on SQLite and on PostgreSQL, settings, run contexts.

Every test that takes ``engine`` runs twice: on a temporary SQLite file and on PostgreSQL
(a fresh schema per test at LEADFLOW_TEST_PG_URL, default the local server's ``test`` db).
Where PostgreSQL is unreachable the PostgreSQL variant is skipped with the reason, except
under CI (CI=true), where it fails: .ci/run starts PostgreSQL first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from leadflow import config as cfg
from leadflow.context import RunContext, make_run_id
from leadflow.store import db
from leadflow.store.migrations import VERSION_TABLE

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("LEADFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        eng = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL not reachable at {PG_URL}: {type(e).__name__}"


_PG_REASON = _pg_available()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A URL of an empty, initialised warehouse on each backend."""
    yield from _warehouse_url(request, tmp_path, init=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A URL of a database without any leadflow table on each backend (migration tests)."""
    yield from _warehouse_url(request, tmp_path, init=False)


def _warehouse_url(request: pytest.FixtureRequest, tmp_path: Path, init: bool) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        if init:
            tmp_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), tmp_path / "warehouse.db")
        yield url
        _forget(url)
        return
    if _PG_REASON:
        if os.environ.get("CI"):
            pytest.fail(_PG_REASON)
        pytest.skip(_PG_REASON)
    if init and not _TEMPLATE.get("pg_busy"):          # one test at a time may hold it
        yield from _pg_reused_schema()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(schema)
    if init:
        db.init(db.engine(url))
    yield url
    _forget(url)
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


# Initialising a warehouse runs every migration (~0.1 s on SQLite, ~1 s on PostgreSQL), and
# most tests want an empty one: SQLite tests copy a file initialised once per process; each
# PostgreSQL test gets this process's schema emptied (TRUNCATE ... RESTART IDENTITY), or a
# fresh one when the test changed its shape or left it locked.
_TEMPLATE: dict[str, Any] = {}


def _forget(url: str) -> None:
    """Close the test's connections (a test may leave some open, or broken on purpose)."""
    db.engine(url).dispose()
    db._ENGINES.pop(url, None)


def _schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def _sqlite_template() -> Path:
    if "sqlite" not in _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="lf_template_")) / "warehouse.db"
        url = f"sqlite:///{path}"
        db.init(db.engine(url))
        _forget(url)                        # closes the last connection: WAL checkpointed
        _TEMPLATE["sqlite"] = path
    return _TEMPLATE["sqlite"]


def _pg_shape(c: sa.Connection, schema: str) -> tuple[Any, ...]:
    """Tables, columns, indexes and the schema revision: what an emptied schema must still match."""
    cols = c.execute(sa.text("SELECT table_name, column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = :s ORDER BY 1, 2"), {"s": schema}).all()
    idx = c.execute(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s ORDER BY 1"),
                    {"s": schema}).all()
    rev = c.execute(sa.text(f'SELECT * FROM "{schema}".{VERSION_TABLE}')).all()
    return tuple(cols), tuple(idx), tuple(rev)


def _pg_reused_schema() -> Any:
    admin = _TEMPLATE.get("pg_admin") or _TEMPLATE.setdefault("pg_admin", sa.create_engine(PG_URL))
    schema = _TEMPLATE.get("pg_schema")
    if schema is None:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db.init(db.engine(_schema_url(schema)))
        with admin.connect() as c:
            _TEMPLATE["pg_shape"] = _pg_shape(c, schema)
        _TEMPLATE["pg_schema"] = schema
    url = _schema_url(schema)
    _TEMPLATE["pg_busy"] = True
    try:
        yield url
    finally:
        _TEMPLATE["pg_busy"] = False
    _forget(url)
    try:
        with admin.begin() as c:
            c.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            if _pg_shape(c, schema) != _TEMPLATE["pg_shape"]:
                raise LookupError("the test changed the schema's shape")
            tables = [t for t in sa.inspect(c).get_table_names(schema=schema) if t != VERSION_TABLE]
            c.execute(sa.text("TRUNCATE " + ", ".join(f'"{schema}"."{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
    except (LookupError, sa.exc.DBAPIError):
        _TEMPLATE.pop("pg_schema")
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="session", autouse=True)
def _drop_templates() -> Any:
    yield
    if "sqlite" in _TEMPLATE:
        shutil.rmtree(_TEMPLATE["sqlite"].parent, ignore_errors=True)
    if "pg_schema" in _TEMPLATE:
        with _TEMPLATE["pg_admin"].begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{_TEMPLATE["pg_schema"]}" CASCADE'))


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    return db.engine(db_url)


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def make_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build a RunContext from a config dict (paths relative to tmp_path) and an engine."""

    def _make(doc: dict[str, Any], engine: sa.Engine, run_date: date = date(2026, 11, 26),
              job: str = "test") -> RunContext:
        p = write_config(tmp_path / "leadflow.yaml", doc)
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
        settings = cfg.load(p)
        return RunContext(settings, engine, run_date, make_run_id(job, run_date), job)

    return _make


@pytest.fixture
def shared_data() -> Path:
    """The real lead data beside the project; skips with the reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (see DEVELOPERS brief)")
    return SHARED_DATA


def demo_config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's leadflow.yaml whose folders point into tmp_path."""
    doc = yaml.safe_load((ROOT / "leadflow.yaml").read_text())
    doc["paths"] = {"data_dir": str(tmp_path / "data"), "reports_dir": str(tmp_path / "reports"),
                    "lists_dir": str(tmp_path / "reports" / "lead_lists")}
    for s in doc.get("sources", []):
        con = s["connector"]
        if con.get("type") == "file":
            con["path"] = str(tmp_path / "data" / Path(con["path"]).relative_to("data"))
            con["min_age_seconds"] = 0
    if "model" in doc:
        doc["model"]["artifacts_dir"] = str(tmp_path / "models")
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
    return write_config(tmp_path / "leadflow.yaml", doc)
