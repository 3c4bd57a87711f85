"""The CLI: help works, and expected failures are one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leadflow.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    import os
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "leadflow", *args], capture_output=True,
                          text=True, env=e, cwd=cwd or ROOT, timeout=120)


def test_help_lists_commands() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("init", "run", "status", "demo-data"):
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd", [["run", "--help"], ["status", "--help"], ["init", "--help"]])
def test_subcommand_help(cmd: list[str]) -> None:
    assert main(cmd) == 0


def test_missing_config_is_one_line_error(tmp_path: Path) -> None:
    r = run_cli("status", "--config", str(tmp_path / "missing.yaml"))
    assert r.returncode != 0
    assert "config file not found" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_invalid_config_is_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("routing:\n  reps:\n    - id: ann\n      name: Ann\n      weight: -1\n")
    r = run_cli("init", "--config", str(p))
    assert r.returncode != 0
    assert "routing.reps[0:ann].weight" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_database_is_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources: []\n")
    r = run_cli("init", "--config", str(p),
                env={"LEADFLOW_DATABASE_URL": "postgresql+psycopg://u:topsecret@127.0.0.1:1/x"})
    assert r.returncode != 0
    assert "cannot reach the warehouse" in r.stderr
    assert "topsecret" not in r.stderr and "Traceback" not in r.stderr


def test_uninitialised_warehouse_says_run_init(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources: []\n")
    r = run_cli("run", "--config", str(p), "--date", "2026-11-26",
                env={"LEADFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert r.returncode != 0 and "leadflow init" in r.stderr


def test_bad_date_is_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources: []\n")
    env = {"LEADFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    assert run_cli("init", "--config", str(p), env=env).returncode == 0
    r = run_cli("run", "--config", str(p), "--date", "26/11/2026", env=env)
    assert r.returncode != 0 and "YYYY-MM-DD" in r.stderr


def test_typer_exit_code_is_propagated() -> None:
    import typer

    from leadflow.cli import app

    @app.command("exit-three", hidden=True)
    def _exit_three() -> None:
        raise typer.Exit(3)

    assert main(["exit-three"]) == 3


@pytest.mark.parametrize("args, hint", [(("stauts",), "status"), (("status", "--bogus"), "--bogus")])
def test_mistyped_command_gives_usage_and_exit_2(args: tuple[str, ...], hint: str) -> None:
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr
    assert "Usage:" in r.stderr and hint in r.stderr


def test_backfill_replays_only_days_with_dated_deliveries(tmp_path, db_url, monkeypatch, capsys) -> None:
    """`leadflow backfill` runs the days whose files are dated in the range, in order; a reversed
    range is one line, exit non-zero."""
    import yaml
    land = tmp_path / "landing"
    land.mkdir()
    (land / "leads_2024-01-03.csv").write_text("id,email\n")        # header only: lands nothing
    (land / "leads_2024-01-05.csv").write_text("id,email\n")
    (land / "leads_2024-02-01.csv").write_text("id,email\n")        # after the range: waits
    cfg = tmp_path / "leadflow.yaml"
    cfg.write_text(yaml.safe_dump({"sources": [{
        "name": "web", "owner": "o", "kind": "inbound_leads", "mapping": {"id": "source_record_id",
                                                                          "email": "email"},
        "connector": {"type": "file", "path": "landing", "pattern": "leads_*.csv", "min_age_seconds": 0}}]}))
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", db_url)
    assert main(["backfill", "--from", "2024-01-01", "--to", "2024-01-31", "-c", str(cfg),
                 "--steps", "ingest"]) == 0
    out = capsys.readouterr().out
    assert [ln.split()[0] for ln in out.splitlines() if ln.startswith("2024-")] == \
        ["2024-01-03", "2024-01-05"]
    assert "2 day(s) replayed" in out
    assert main(["backfill", "--from", "2024-01-31", "--to", "2024-01-01", "-c", str(cfg)]) != 0
    assert "--to 2024-01-01 is before --from 2024-01-31" in capsys.readouterr().err
