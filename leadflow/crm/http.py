"""HTTP to a CRM API: bearer token, bounded retries that honour 429 and ``Retry-After``.

One ``Api`` per destination and push, shared by the worker threads: when the CRM says "slow
down" (429, or 503 with ``Retry-After``), every worker waits until the given time, not just the
one that was told, so a storm is ridden out instead of amplified. Retries are bounded by a count
and by a total waiting budget per request; when either runs out the request fails (the batch is
left ``failed`` in the outbox for the next run). The token is only ever put in the
``Authorization`` header: error messages carry the method, path and status, never the token,
the payload or the response body.
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from leadflow.config import CrmBase
from leadflow.errors import LeadflowError

log = logging.getLogger("leadflow.crm")

RETRY_STATUS = {429, 500, 502, 503, 504}


class CrmError(LeadflowError):
    """A CRM push failed as a whole (names the destination and the cause; never the token or PII)."""


class CrmAuthError(CrmError):
    """The CRM refused the credentials: no point trying the other batches."""


def resolve_token(dest: CrmBase) -> tuple[str, str]:
    """(base URL, token) from the YAML and the environment or an Airflow connection."""
    base, token = dest.base_url, os.environ.get(dest.token_env) if dest.token_env else None
    if dest.airflow_conn_id:
        from leadflow.vocab.connections import airflow_connection
        conn = airflow_connection(dest.airflow_conn_id, f"crm.{dest.name}", CrmError)
        token = conn.password or token
        if conn.host:
            host = conn.host if "://" in conn.host else f"https://{conn.host}"
            base = host.rstrip("/") + (f":{conn.port}" if conn.port and "://" not in conn.host else "")
    if not token:
        where = f"env {dest.token_env}" if dest.token_env else f"connection {dest.airflow_conn_id}"
        raise CrmError(f"crm.{dest.name}: no API token (set {where})")
    return base.rstrip("/"), token


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass
class Api:
    dest: CrmBase
    base: str
    token: str = field(repr=False)
    stats: dict[str, int] = field(default_factory=lambda: {"requests": 0, "throttled": 0, "retries": 0})
    _not_before: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def _session(self) -> requests.Session:
        s = getattr(self._local, "s", None)
        if s is None:
            s = self._local.s = requests.Session()
            s.headers.update({"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                              "Accept": "application/json", "User-Agent": "leadflow-crm-push"})
        return s

    def _pause_all(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def _wait_turn(self) -> float:
        with self._lock:
            wait = self._not_before - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return max(wait, 0.0)

    def request(self, method: str, path: str, body: Any, idempotent: bool = True) -> requests.Response:
        """Send one request; retried on 429/5xx/connection errors within the destination's budget.

        Returns the response for any other status (the connector reads validation errors from it).
        A create (``idempotent=False``) is retried only on 429, which the CRM sends without doing
        anything; after a timeout or a 5xx it may have been done, so the request fails instead and
        the caller looks for the record before sending it again.
        """
        d = self.dest
        waited, backoff = 0.0, d.backoff_seconds
        where = f"crm.{d.name}: {method} {path}"
        for attempt in range(d.max_retries + 1):
            waited += self._wait_turn()
            try:
                with self._lock:
                    self.stats["requests"] += 1
                r = self._session().request(method, self.base + path, json=body, timeout=d.timeout_seconds)
            except requests.RequestException as e:
                if not idempotent:
                    raise CrmError(f"{where}: {type(e).__name__} (may have been done; not re-sent)") from None
                why, delay = type(e).__name__, backoff
            else:
                if r.status_code in (401, 403) and not _is_limit(r):
                    raise CrmAuthError(f"{where}: HTTP {r.status_code} (credentials refused; check the token)")
                if r.status_code not in RETRY_STATUS or (not idempotent and r.status_code != 429):
                    return r
                why = f"HTTP {r.status_code}"
                hinted = _retry_after(r.headers.get("Retry-After"))
                delay = hinted if hinted is not None else backoff
                if r.status_code == 429:
                    with self._lock:
                        self.stats["throttled"] += 1
                    self._pause_all(delay)   # everyone slows down, not just this worker
            if attempt == d.max_retries:
                raise CrmError(f"{where}: {why} after {attempt + 1} attempt(s)")
            if waited + delay > d.retry_budget_seconds:
                raise CrmError(f"{where}: {why}; retry budget of {d.retry_budget_seconds:g}s spent "
                               f"(next wait {delay:g}s)")
            log.info("%s: %s, retrying in %.1fs (attempt %d)", where, why, delay, attempt + 1)
            with self._lock:
                self.stats["retries"] += 1
            time.sleep(delay)
            waited += delay
            backoff = min(backoff * 2 or 1.0, 60.0)
        raise CrmError(f"{where}: gave up")  # pragma: no cover - the loop always returns or raises


def _is_limit(r: requests.Response) -> bool:
    """Salesforce answers 403 REQUEST_LIMIT_EXCEEDED for its daily API allocation: not an auth problem."""
    return r.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in r.text[:2000]
