"""Airflow operations: the local Airflow binds to loopback, runs keep their order, late runs alert
once and failed runs show no upcoming deadline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _standalone_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Run scripts/airflow_standalone.sh with a stand-in `airflow` that prints its environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "airflow"
    fake.write_text("#!/usr/bin/env bash\nenv | grep '^AIRFLOW__API__'\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(VENV=str(venv), AIRFLOW_HOME=str(tmp_path / "home"), **extra)
    r = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(ln.split("=", 1) for ln in r.stdout.splitlines() if ln.startswith("AIRFLOW__API__"))


def test_make_airflow_binds_to_loopback_by_default(tmp_path: Path) -> None:
    api = _standalone_env(tmp_path)
    assert api["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert api["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8080"


def test_make_airflow_can_be_exposed_on_purpose(tmp_path: Path) -> None:
    api = _standalone_env(tmp_path, AIRFLOW_BIND="0.0.0.0", AIRFLOW_PORT="8090",
                          AIRFLOW__API__BASE_URL="http://airflow.example:8090")
    assert api["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert api["AIRFLOW__API__BASE_URL"] == "http://airflow.example:8090"
