"""Speed to lead, around the pass: the Redis watcher keeps its subscription and turns every
message of a burst into an asset event (the providers' trigger ends after the first and drops the
rest); every pass is a step in ``pipeline_runs`` that ``leadflow status`` lists apart from the
daily runs; a pass that waited for the run lock takes its clock and run id when it gets it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from leadflow.errors import LeadflowError
from leadflow.intraday import at_time, receiver, run_now, stages, utcnow
from leadflow.intraday import run as run_intraday
from leadflow.monitor import run_step
from leadflow.status import intraday_rows, status_rows
from leadflow.store import db
from leadflow.store.locks import run_lock
from leadflow.store.schema import pipeline_runs
from tests.test_intraday import FORM, MON, config, ictx

REDIS = "redis://127.0.0.1:6379/0"


# --------------------------------------------------------------------------- the watcher
def _redis() -> Any:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return client


async def _watch(events: AsyncIterator[Any], channel: str, n: int, wait: float) -> tuple[list[Any], bool, int]:
    """Iterate a trigger's events while ``n`` messages are published in a burst once it has
    subscribed; returns (events, whether the trigger ended, subscribers after the burst)."""
    client = _redis()
    got: list[Any] = []

    async def consume() -> None:
        async for ev in events:
            got.append(ev)

    task = asyncio.create_task(consume())
    for _ in range(100):
        if dict(client.pubsub_numsub(channel)).get(channel.encode()):
            break
        await asyncio.sleep(0.05)
    for i in range(n):
        client.publish(channel, json.dumps({"submission_id": f"s{i}"}))
    await asyncio.sleep(wait)
    subs = int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
    ended = task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    client.close()
    return got, ended, subs


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> str:
    _redis()
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", REDIS)
    return f"leadflow:test:{uuid.uuid4().hex[:8]}"


def test_our_watcher_stays_subscribed_and_reports_every_message_of_a_burst(channel: str) -> None:
    from leadflow.orchestration.redis_watch import RedisChannelTrigger

    trig = RedisChannelTrigger(channels=[channel], poll_seconds=0.5)
    got, ended, subs = asyncio.run(_watch(trig.run(), channel, 3, 2.0))
    assert [json.loads(e.payload["data"])["submission_id"] for e in got] == ["s0", "s1", "s2"]
    assert {e.payload["channel"] for e in got} == {channel}
    assert not ended and subs == 1                     # still listening: nothing published later is lost
    path, kwargs = trig.serialize()                    # what the triggerer rebuilds it from
    assert path == "leadflow.orchestration.redis_watch.RedisChannelTrigger"
    assert RedisChannelTrigger(**kwargs).serialize() == (path, kwargs)


def test_the_providers_redis_trigger_ends_after_one_message_and_drops_the_rest(channel: str) -> None:
    """Why the DAG does not use MessageQueueTrigger(scheme="redis+pubsub"): after each message the
    trigger ends, and until the triggerer restarts it nobody is subscribed."""
    from airflow.providers.redis.triggers.redis_await_message import AwaitMessageTrigger

    trig = AwaitMessageTrigger(channels=[channel], poll_interval=0.2)
    got, ended, subs = asyncio.run(_watch(trig.run(), channel, 3, 2.0))
    assert len(got) == 1 and ended


def test_the_dag_asset_is_watched_by_our_trigger() -> None:
    from leadflow.orchestration.redis_watch import RedisChannelTrigger
    from leadflow.orchestration.speed_to_lead import event_asset

    asset = event_asset({"event_channel": "leadflow:x", "watch_poll_seconds": 0.5})
    [w] = asset.watchers
    assert isinstance(w.trigger, RedisChannelTrigger)
    assert w.trigger.serialize()[1] == {"channels": ["leadflow:x"], "redis_conn_id": "redis_default",
                                        "poll_seconds": 0.5}


# --------------------------------------------------------------------------- pipeline_runs, status
def _steps(engine: sa.Engine) -> list[Any]:
    return db.read_df(engine, sa.select(pipeline_runs).order_by(pipeline_runs.c.id)).to_dict("records")


def test_each_pass_is_recorded_and_shown_by_status_apart_from_the_daily_runs(
        engine, make_ctx, tmp_path, capsys) -> None:
    from leadflow.cli import main

    doc = config(tmp_path, channels=["email"])
    daily = make_ctx(doc, engine, MON.date(), job="lead_handoff_daily")
    run_step(daily, "ingest", lambda c: {"rows": 0})
    c = ictx(make_ctx, doc, engine, MON + timedelta(minutes=1))
    receiver.land(c.settings, FORM, "demo_request", at=MON)
    run_intraday(c)                                     # notification fails (no SMTP): recorded
    run_intraday(ictx(make_ctx, doc, engine, MON + timedelta(minutes=5)))      # the sweep
    steps = [s for s in _steps(engine) if s["job"] == "speed_to_lead"]
    assert [(s["run_id"], s["task"], s["status"]) for s in steps] == [
        ("speed_to_lead:2026-11-30T10:01:00", "intraday", "success"),
        ("speed_to_lead:2026-11-30T10:05:00", "intraday", "success")]
    assert steps[0]["counts"]["handed_off"] == 1 and steps[0]["counts"]["failed"] == 1
    assert steps[1]["counts"]["handed_off"] == 0 and steps[1]["counts"]["failed"] == 1   # retried
    runs, _ = status_rows(engine)
    assert [r["run_id"] for r in runs] == ["lead_handoff_daily:2026-11-30"]   # daily runs not crowded out
    rows, total = intraday_rows(engine)
    assert [r["run_id"] for r in rows] == ["speed_to_lead:2026-11-30T10:05:00",
                                           "speed_to_lead:2026-11-30T10:01:00"]
    assert total == {"passes": 2, "failed_passes": 0, "handed_off": 1, "sent": 0, "failed": 2}
    assert main(["status", "-c", str(tmp_path / "leadflow.yaml")]) == 0
    out = capsys.readouterr().out
    assert "speed to lead, latest passes" in out and "speed_to_lead:2026-11-30T10:05:00" in out
    assert "2 passes (0 failed), 1 handed off" in out
    assert "Dana" not in out and "dana@acme.test" not in out


def test_a_failed_pass_is_recorded_failed(engine, make_ctx, tmp_path, monkeypatch) -> None:
    doc = config(tmp_path)

    def boom(*a: Any, **k: Any) -> dict[str, Any]:
        raise LeadflowError("web_forms: the landing folder is not readable")

    monkeypatch.setattr(stages, "process", boom)
    with pytest.raises(LeadflowError):
        run_intraday(ictx(make_ctx, doc, engine, MON))
    [s] = _steps(engine)
    assert s["status"] == "failed" and "not readable" in s["message"]
    rows, total = intraday_rows(engine)
    assert rows[0]["status"] == "failed" and total["failed_passes"] == 1


def test_a_pass_that_waited_for_the_lock_takes_its_clock_when_it_gets_it(engine, make_ctx,
                                                                         tmp_path) -> None:
    doc = config(tmp_path)
    c = ictx(make_ctx, doc, engine, MON)
    c = at_time(c, utcnow())
    held, release = threading.Event(), threading.Event()

    def daily_step() -> None:
        with run_lock(engine, "lead_handoff_daily:x", "score"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=daily_step)
    t.start()
    held.wait(10)
    threading.Timer(2.0, release.set).start()
    t0 = time.time()
    run_now(c)
    t.join()
    [s] = _steps(engine)
    began = s["run_id"].split(":", 1)[1]
    assert time.time() - t0 >= 2.0
    assert began > c.run_id.split(":", 1)[1]            # not the time it was created at
