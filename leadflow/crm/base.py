"""What every CRM connector offers the push: upsert by key and withdraw by CRM id, per record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from leadflow.scrub import scrub


@dataclass
class Record:
    """One record to push: the upsert key (or the CRM id, for a withdrawal) and its fields."""
    key: str
    fields: dict[str, Any]
    to: str | None = None       # a task's contact id (the record it is associated with)


@dataclass
class Outcome:
    """What the CRM said about one record: accepted (with its id) or rejected (with why)."""
    ok: bool
    crm_id: str | None = None
    created: bool | None = None
    error: str | None = None


class Connector(Protocol):
    def upsert(self, records: list[Record]) -> list[Outcome]: ...

    def withdraw(self, records: list[Record]) -> list[Outcome]: ...


def clean_error(text: Any) -> str:
    """A CRM's validation message as one line without PII (CRMs echo the rejected value)."""
    return scrub(text, 300)


def split_on_rejection(send: Any, records: list[Record], is_validation: Any) -> list[Outcome]:
    """Send ``records``; when the CRM rejects a whole batch for one bad record, split it in halves
    until the bad ones stand alone, so the good ones still go through (log2(n) extra requests per
    bad record). ``send`` returns (response, outcomes | None); None means "whole batch refused"."""
    resp, outcomes = send(records)
    if outcomes is not None:
        return outcomes
    if len(records) == 1 or not is_validation(resp):
        return [Outcome(False, error=_whole(resp)) for _ in records]
    mid = len(records) // 2
    return (split_on_rejection(send, records[:mid], is_validation)
            + split_on_rejection(send, records[mid:], is_validation))


def _whole(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        msg = body.get("message") or ""
        code = body.get("category") or body.get("errorCode") or ""
        return clean_error(f"HTTP {resp.status_code} {code}: {msg}".strip())
    return f"HTTP {resp.status_code}"
