"""The ``speed_to_lead`` DAG's parse-time settings and its event Asset (YAML and ``airflow.sdk``
only: the DAG processor imports this on every parse).

The Asset's watcher is ``redis_watch.RedisChannelTrigger`` on ``speed_to_lead.event_channel``:
it stays subscribed and turns every message into an asset event (the providers'
``MessageQueueTrigger(scheme="redis+pubsub")`` ends after each message and drops what is
published before the triggerer restarts it; see redis_watch). ``watch_poll_seconds`` bounds how
long it blocks on the socket per poll (it returns at once when a message comes). Without the
Redis provider the DAG still runs on its sweep schedule alone, and says so in its log.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from airflow.sdk import Asset, AssetWatcher

from leadflow.orchestration.paths import config_path

log = logging.getLogger("leadflow.orchestration")
EVENT_ASSET = "leadflow://speed_to_lead/events"


def speed_to_lead_settings() -> dict[str, Any]:
    """The ``speed_to_lead:`` block of leadflow.yaml as a plain dict ({} when absent or broken:
    the task's full validation reports the problem)."""
    import yaml

    try:
        doc = yaml.safe_load(config_path().read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    block = doc.get("speed_to_lead") if isinstance(doc, dict) else None
    return block if isinstance(block, dict) else {}


def event_asset(stl: dict[str, Any]) -> Asset:
    """The Asset the form receiver's events update, watched on the Redis pub/sub channel."""
    if importlib.util.find_spec("airflow.providers.redis") is None:    # the trigger's connection
        log.warning("speed_to_lead: apache-airflow-providers-redis not installed; sweep only")
        return Asset(EVENT_ASSET)
    from leadflow.orchestration.redis_watch import RedisChannelTrigger

    trigger = RedisChannelTrigger(channels=[str(stl.get("event_channel") or "leadflow:speed_to_lead")],
                                  redis_conn_id=str(stl.get("redis_conn_id") or "redis_default"),
                                  poll_seconds=float(stl.get("watch_poll_seconds") or 1.0))
    return Asset(EVENT_ASSET, watchers=[AssetWatcher(name="speed_to_lead_events", trigger=trigger)])
