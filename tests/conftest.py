"""Shared fixtures: a warehouse on SQLite and on PostgreSQL, settings, run contexts.

Every test that takes ``engine`` runs twice: on a temporary SQLite file and on PostgreSQL
(a fresh schema per test at LEADFLOW_TEST_PG_URL, default the local server's ``test`` db).
Where PostgreSQL is unreachable the PostgreSQL variant is skipped with the reason, except
under CI (CI=true), where it fails: .ci/run starts PostgreSQL first.
"""

from __future__ import annotations

import os
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
            db.init(db.engine(url))
        yield url
        db.engine(url).dispose()
        db._ENGINES.pop(url, None)
        return
    if _PG_REASON:
        if os.environ.get("CI"):
            pytest.fail(_PG_REASON)
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    if init:
        db.init(db.engine(url))
    yield url
    db.engine(url).dispose()
    db._ENGINES.pop(url, None)
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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
