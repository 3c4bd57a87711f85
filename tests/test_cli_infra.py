"""Infrastructure failures (disk full, a terminated database backend, a warehouse path that cannot
exist) are expected failures: one line naming the warehouse or the file, a non-zero exit that is
not 70 ("internal error"), no traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadflow import pipeline
from leadflow.cli import main
from tests.test_cli import run_cli

DOC = {"sources": []}


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


def test_warehouse_path_that_cannot_exist_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources: []\n")
    r = run_cli("init", "--config", str(p), env={"LEADFLOW_DATABASE_URL": f"sqlite:///{blocker}/sub/wh.db"})
    assert r.returncode not in (0, 70)
    assert "afile" in _one_line(r.stderr)


def _lose_the_warehouse(ctx) -> dict:
    """A real infrastructure failure on each backend: SQLite fills up, PostgreSQL's backend dies."""
    with ctx.engine.begin() as c:
        if ctx.engine.dialect.name == "sqlite":
            c.exec_driver_sql("PRAGMA max_page_count = 1")
            c.exec_driver_sql("CREATE TABLE filler (x TEXT)")
            c.exec_driver_sql("INSERT INTO filler VALUES (?)", (("x" * 100_000),))
        else:
            c.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
    return {}


def test_warehouse_failure_inside_a_step_is_one_line(engine, make_ctx, tmp_path, monkeypatch, capsys) -> None:
    make_ctx(DOC, engine)
    monkeypatch.setattr(pipeline, "DAILY_STEPS", [("ingest", _lose_the_warehouse)])
    code = main(["run", "-c", str(tmp_path / "leadflow.yaml"), "--date", "2026-11-26", "--steps", "ingest"])
    line = _one_line(capsys.readouterr().err)
    assert code not in (0, 70)
    assert "warehouse" in line
    where = engine.url.database if engine.dialect.name == "sqlite" else "127.0.0.1"
    assert where in line


def test_disk_full_on_a_file_is_one_line_naming_it(engine, make_ctx, tmp_path, monkeypatch, capsys) -> None:
    make_ctx(DOC, engine)
    target = tmp_path / "lists" / "ann.csv"

    def full(ctx) -> dict:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(pipeline, "DAILY_STEPS", [("deliver", full)])
    code = main(["run", "-c", str(tmp_path / "leadflow.yaml"), "--date", "2026-11-26", "--steps", "deliver"])
    line = _one_line(capsys.readouterr().err)
    assert code not in (0, 70)
    assert str(target) in line and "No space left" in line


@pytest.mark.parametrize("exc", [KeyError("x"), ZeroDivisionError("y")])
def test_real_bugs_still_say_internal_error(exc, engine, make_ctx, tmp_path, monkeypatch, capsys) -> None:
    make_ctx(DOC, engine)

    def bug(ctx) -> dict:
        raise exc

    monkeypatch.setattr(pipeline, "DAILY_STEPS", [("ingest", bug)])
    assert main(["run", "-c", str(tmp_path / "leadflow.yaml"), "--date", "2026-11-26", "--steps", "ingest"]) == 70
