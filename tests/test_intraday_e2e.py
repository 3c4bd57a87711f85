"""Speed to lead on the real scheduler (slow tier): an event published while no watcher listens
(no triggerer running) is lost by Redis pub/sub, and the sweep schedule still hands the lead off
and tells its rep exactly once."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from bench import _airflow as af
from bench import speed_to_lead as b

pytestmark = pytest.mark.slow


def _redis_up() -> bool:
    try:
        b.subscribers("leadflow:ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means Redis is not there
        return False


def test_the_sweep_catches_an_event_published_while_the_watcher_is_down(tmp_path: Path) -> None:
    if not _redis_up():
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    from leadflow import config as cfg

    home = tmp_path / "airflow_home"
    home.mkdir()
    channel = f"leadflow:test:{uuid.uuid4().hex[:8]}"
    with b.smtp_sink() as (sink, port):
        config = b.project(tmp_path / "project", port, channel, "* * * * *")   # sweep every minute
        env = b.env_for(home, config)
        settings = cfg.load(config)
        with af.services(env, home, ("api-server", "dag-processor", "scheduler")):   # no triggerer
            af.unpause_when_parsed(env, home, b.DAG_ID)
            assert b.subscribers(channel) == 0
            marker = f"Bench{uuid.uuid4().hex[:8]}"
            event = b.submit(settings, marker, "demo_request")
            assert event["published"]                  # published, but nobody was listening
            af.wait("the sweep to notify the rep", lambda: marker.lower() in sink.arrived, 180, home)
            time.sleep(3)
            runs = af.meta(home, "SELECT run_type FROM dag_run WHERE dag_id=?", b.DAG_ID)
    assert len(sink.arrived[marker.lower()]) == 1
    assert {r for (r,) in runs} == {"scheduled"}
    got = b.counts(env["LEADFLOW_DATABASE_URL"])
    assert got["handoffs"] == got["notifications_sent"] == 1
