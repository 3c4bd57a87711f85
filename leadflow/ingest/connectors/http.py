"""HTTP JSON API connector: paged GETs with bearer auth, timeouts and retries with backoff.

Each page is one delivery (hashed by its body), so re-delivering a page lands nothing new.
Paging follows a "next" URL found in the body (``next_path``) or counts ``?page=N``
(``page_param``) until a page comes back empty. 429 and 5xx responses, timeouts and dropped
connections are retried with exponential backoff (honouring a numeric Retry-After).

The bearer token goes only to the origin (scheme, host, port) of the configured ``url``: a
``next`` link elsewhere is refused (or, with ``cross_origin_next: follow_without_token``,
followed without it), and requests drops it on redirects to another host. URLs in messages,
batch records and logs (urllib3's debug lines included) carry no query values but numbers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import requests

from leadflow.config import HttpConnector, Source
from leadflow.context import RunContext
from leadflow.errors import ConfigError, InputError
from leadflow.ingest.formats import as_text
from leadflow.ingest.landing import Delivery, land_delivery, result

_SECRET = re.compile(r"(token|key|secret|password|sig)", re.I)
_PLAIN = re.compile(r"[0-9]{1,12}")        # page numbers, limits, offsets: useful and harmless


def redact(url: str) -> str:
    """A URL safe for logs and messages: no user info, query values blanked except plain numbers
    (a cursor, a signature or an e-mail address in a query string never reaches a log)."""
    parts = urlsplit(url)
    q = [(k, v if _PLAIN.fullmatch(v) and not _SECRET.search(k) else "***")
         for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(q, safe="*"), ""))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what the token is bound to."""
    p = urlsplit(url)
    scheme = p.scheme.lower()
    try:
        port = p.port
    except ValueError:
        port = None
    return scheme, (p.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _origin_text(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc.rsplit('@', 1)[-1]}"[:200]


class _QueryScrub(logging.Filter):
    """urllib3 logs each request line (path and query) at DEBUG: cut the query off."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] + "?***" if isinstance(a, str) and "?" in a else a
                                for a in record.args)
        return True


for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_QueryScrub())


def token(src: Source, conn: HttpConnector) -> str | None:
    if conn.token_env:
        tok = os.environ.get(conn.token_env)
        if not tok:
            raise ConfigError(f"source {src.name}: environment variable {conn.token_env} (API token) is not set")
        return tok
    if conn.airflow_conn_id:
        from leadflow.vocab.connections import airflow_connection
        return airflow_connection(conn.airflow_conn_id, f"source {src.name}", ConfigError).password
    return None


def dig(doc: Any, path: str | None) -> Any:
    """Follow a dotted path ('data.items'); '' or '.' is the document itself."""
    if path in (None, "", "."):
        return doc
    node = doc
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def fetch(session: requests.Session, url: str, conn: HttpConnector, src: Source,
          sleep: Callable[[float], None] = time.sleep, headers: dict[str, str] | None = None) -> requests.Response:
    """GET with retries on 429/5xx/timeouts; raises InputError naming source and URL after the last try."""
    last = ""
    for attempt in range(conn.max_retries + 1):
        try:
            r = session.get(url, timeout=conn.timeout_seconds, headers=headers)
        except requests.Timeout:
            last = f"timed out after {conn.timeout_seconds:g}s"
        except requests.ConnectionError as e:
            last = f"connection failed ({type(e).__name__})"
        else:
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}"
                wait = conn.backoff_seconds * (2 ** attempt)
                ra = r.headers.get("Retry-After", "")
                if ra.strip().isdigit():
                    wait = max(wait, min(float(ra), 60.0))
                if attempt < conn.max_retries:
                    sleep(wait)
                continue
            if r.status_code >= 400:
                raise InputError(f"source {src.name}, url {redact(url)}: HTTP {r.status_code} (not retried)")
            return r
        if attempt < conn.max_retries:
            sleep(conn.backoff_seconds * (2 ** attempt))
    raise InputError(f"source {src.name}, url {redact(url)}: {last} after {conn.max_retries + 1} attempt(s)")


def _with_page(url: str, param: str, n: int) -> str:
    parts = urlsplit(url)
    q = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param] + [(param, str(n))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(q), parts.fragment))


def land_source(ctx: RunContext, src: Source, progress: Callable[[int], None] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    conn = src.connector
    assert isinstance(conn, HttpConnector)
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    tok = token(src, conn)
    # Per request, never on the session: only pages on the configured origin get the token.
    auth = {"Authorization": f"Bearer {tok}"} if tok else None
    home = origin(conn.url)
    out: list[dict[str, Any]] = []
    page = 1
    url: str | None = _with_page(conn.url, conn.page_param, 1) if conn.page_param else conn.url
    seen: set[str] = set()
    try:
        while url and page <= conn.max_pages and url not in seen:
            seen.add(url)
            safe = redact(url)
            try:
                r = fetch(session, url, conn, src, sleep, auth if origin(url) == home else None)
            except InputError as e:
                out.append(result(src, safe, status="failed", error=str(e)))
                break
            try:
                doc = r.json()
            except ValueError:
                out.append(result(src, safe, status="failed",
                                  error=f"source {src.name}, url {safe}: response is not JSON"))
                break
            recs = dig(doc, conn.records_path)
            if not isinstance(recs, list):
                out.append(result(src, safe, status="failed",
                                  error=f"source {src.name}, url {safe}, field {conn.records_path}: "
                                        "no list of records there"))
                break
            if not recs:
                break
            bad = [i for i, x in enumerate(recs) if not isinstance(x, dict)]
            good = [x for x in recs if isinstance(x, dict)]
            digest = hashlib.sha256(r.content).hexdigest()
            rows = np.asarray([i + 1 for i, x in enumerate(recs) if isinstance(x, dict)], dtype=np.int64)

            def read(good=good, rows=rows):
                if good:
                    yield as_text(pd.DataFrame.from_records(good)), rows

            d = Delivery(src, safe, f"page{page}", read, content_hash=digest,
                         line_rejects=[(i + 1, str(recs[i])[:2000], "a record must be a JSON object") for i in bad])
            out.append(land_delivery(ctx, d, progress))
            page += 1
            if conn.page_param:
                url = _with_page(conn.url, conn.page_param, page)
            else:
                nxt = dig(doc, conn.next_path) if conn.next_path else None
                url = urljoin(url, nxt) if isinstance(nxt, str) and nxt else None
                if url and origin(url) != home and conn.cross_origin_next == "refuse":
                    out.append(result(src, safe, status="refused", error=(
                        f"source {src.name}, url {safe}: the next page link leads to another origin "
                        f"({_origin_text(url)}); not followed, the token goes only to {_origin_text(conn.url)} "
                        "(connector.cross_origin_next: follow_without_token follows it without the token)")))
                    break
    finally:
        session.close()
    return out
