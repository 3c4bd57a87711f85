"""Scrubbing PII and secrets out of messages: the second line of defence for logs, run records and alerts.

Stage errors are written without PII in the first place; ``scrub`` removes what slips through
(emails, phone numbers, credentials in URLs, key=value secrets, values of PII fields) and collapses
a message to one line. Standard library only, so every layer (monitor, alerts, DAG parsing) can use it.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL_CREDS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_SECRET_KV = re.compile(
    r"(?i)\b(?P<key>password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization)"
    r"(?P<sep>\s*[=:]\s*)(?P<val>bearer\s+\S+|'[^']*'|\"[^\"]*\"|\S+)")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_SLACK_HOOK = re.compile(r"https://hooks\.slack\.com/\S+")
_PII_KV = re.compile(
    r"(?i)\b(?P<key>e-?mail|phone|mobile|first_name|last_name|full_name|name)"
    r"(?P<sep>\s*[=:]\s*)(?P<val>'[^']*'|\"[^\"]*\"|[^\s,;]+)")
_PHONE = re.compile(r"(?<![\w.-])\+?\(?\d[\d\s().-]{6,}\d(?![\w-])")
_DATEISH = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:[+-]\d{2}:?\d{2}|Z)?")


def _phone(m: re.Match[str]) -> str:
    s = m.group(0)
    if _DATEISH.fullmatch(s.strip()):
        return s
    digits = sum(ch.isdigit() for ch in s)
    return REDACTED if digits >= 9 else s


def scrub(text: Any, limit: int = 1000) -> str:
    """Remove PII and secrets from a message; collapse it to one line of at most ``limit`` chars."""
    s = " ".join(str(text if text is not None else "").split())
    s = _SLACK_HOOK.sub(REDACTED, s)
    s = _URL_CREDS.sub(lambda m: m.group("scheme") + REDACTED + "@", s)
    s = _BEARER.sub("Bearer " + REDACTED, s)
    s = _SECRET_KV.sub(lambda m: m.group("key") + m.group("sep") + REDACTED, s)
    s = _EMAIL.sub(REDACTED, s)
    s = _PII_KV.sub(lambda m: m.group("key") + m.group("sep") + REDACTED, s)
    s = _PHONE.sub(_phone, s)
    return s if len(s) <= limit else s[: limit - 1] + "…"
