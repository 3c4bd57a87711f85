"""The form receiver's two duties: land a submission where the intraday sources pick it up, and
wake the ``speed_to_lead`` DAG with an event.

A submission becomes one lead record (the first ``inbound_leads`` source of
``speed_to_lead.sources``) and one hand-raising touch (the first ``touches`` source), each a
JSON-lines file written under a hidden name and renamed into place, so a pass never reads half a
file. The event carries only the submission id and time (no PII); if Redis is down the
submission is still landed and the next sweep takes it (never lost, only later).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow.config import Settings
from leadflow.errors import ConfigError, InputError

log = logging.getLogger("leadflow.intraday")

REDIS_URL_ENV = "LEADFLOW_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LEAD_FIELDS = ("email", "first_name", "last_name", "phone", "company", "company_domain", "job_title",
               "company_size", "industry", "country", "city", "opt_out", "lead_source", "campaign_id",
               "channel", "landing_url")


def _folder(settings: Settings, kind: str) -> Path:
    for name in settings.speed_to_lead.sources:
        src = settings.source(name)
        if src.kind == kind and src.connector.type == "file":
            return settings.resolve(src.connector.path)
    raise ConfigError(f"{settings.config_path}: speed_to_lead.sources: no file source of kind {kind!r} "
                      "for the form receiver")


def _write(folder: Path, name: str, record: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{name}.part"
    part.write_text(json.dumps(record, default=str) + "\n", encoding="utf-8")
    final = folder / name
    os.replace(part, final)
    return final


def land(settings: Settings, form: dict[str, Any], touch_type: str = "demo_request",
         at: datetime | None = None) -> dict[str, Any]:
    """Write one submission (lead + touch); returns the event (id, time, type: no PII)."""
    if touch_type not in settings.speed_to_lead.touch_types:
        raise InputError(f"form submission: touch_type {touch_type!r} is not one of speed_to_lead.touch_types")
    if not form.get("email"):
        raise InputError("form submission: field email is missing")
    at = at or datetime.now(UTC).replace(tzinfo=None)
    sid = uuid.uuid4().hex
    stamp = at.isoformat(timespec="microseconds")
    lead = {k: form.get(k) for k in LEAD_FIELDS}     # every column, so each mapping finds its own
    lead.update(submission_id=sid, created_at=stamp)
    touch = {"touch_id": sid, "submission_id": sid, "email": form["email"], "touch_type": touch_type,
             "occurred_at": stamp, "url": form.get("landing_url")}
    _write(_folder(settings, "inbound_leads"), f"form_{sid}.jsonl", lead)
    _write(_folder(settings, "touches"), f"touch_{sid}.jsonl", touch)
    return {"submission_id": sid, "at": stamp, "touch_type": touch_type}


def publish(settings: Settings, event: dict[str, Any], url: str | None = None) -> bool:
    """Publish the event on ``speed_to_lead.event_channel``; False (logged) when Redis is down."""
    import redis

    url = url or os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.publish(settings.speed_to_lead.event_channel, json.dumps(event))
        client.close()
        return True
    except redis.RedisError as e:
        log.warning("speed_to_lead event not published (%s); the sweep will pick it up", type(e).__name__)
        return False


def accept(settings: Settings, form: dict[str, Any], touch_type: str = "demo_request") -> dict[str, Any]:
    """Land a submission and publish its event: what a form endpoint calls."""
    event = land(settings, form, touch_type)
    event["published"] = publish(settings, event)
    return event
