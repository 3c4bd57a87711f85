"""A Redis pub/sub watcher for an Asset that stays subscribed: one asset event per message.

Why not the providers' ``MessageQueueTrigger(scheme="redis+pubsub")``: it runs the Redis
provider's ``AwaitMessageTrigger``, which yields the first message and *ends*; the triggerer
starts it again on its next loop (1-2 s later, longer on a loaded machine). Pub/sub keeps
nothing for a channel nobody is subscribed to, so every event published in that gap, and any
second message already waiting when the first was taken, is dropped and waits for the sweep
(minutes). This trigger keeps one subscription for its whole life and blocks on the socket
(``poll_seconds`` at most) instead of sleeping between polls, so an event becomes an asset
event in well under a second and a burst becomes one asset event per message.
(tests/test_intraday_watch.py shows both against a real Redis.)

The triggerer imports it by its class path; it needs the Redis provider (for the Airflow
connection) and nothing of leadflow's stages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "leadflow.orchestration.redis_watch.RedisChannelTrigger"


class RedisChannelTrigger(BaseEventTrigger):
    """Yields a ``TriggerEvent`` ({channel, data}) for every message on ``channels``."""

    def __init__(self, channels: list[str] | str, redis_conn_id: str = "redis_default",
                 poll_seconds: float = 1.0) -> None:
        super().__init__()
        self.channels = [channels] if isinstance(channels, str) else list(channels)
        self.redis_conn_id = redis_conn_id
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"channels": self.channels, "redis_conn_id": self.redis_conn_id,
                           "poll_seconds": self.poll_seconds}

    def _client(self) -> Any:
        from airflow.providers.redis.hooks.redis import RedisHook

        return RedisHook(redis_conn_id=self.redis_conn_id).get_conn()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        pubsub = self._client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*self.channels)
        try:
            while True:
                # a thread of the default pool, not asgiref's single shared one: this call blocks
                # for up to poll_seconds and must not hold up other triggers' sync calls
                msg = await asyncio.to_thread(pubsub.get_message, timeout=self.poll_seconds)
                if msg and msg.get("type") == "message":
                    yield TriggerEvent({"channel": _text(msg.get("channel")), "data": _text(msg.get("data"))})
        finally:
            pubsub.close()


def _text(v: Any) -> Any:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
