"""HTTP connector against a real http.server on 127.0.0.1: paging, auth, 429 retry, timeout."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from leadflow.ingest import land, summarise
from tests.ingest_helpers import quarantined, rows

PAGES = {
    "1": {"data": [{"id": "1", "email": "a@x.com", "created": "2026-11-01T09:00:00Z"},
                   {"id": "2", "email": "b@x.com", "created": "2026-11-02"}], "next": "/leads?page=2"},
    "2": {"data": [{"id": "3", "email": "c@x.com", "created": "not a date"}], "next": None},
}


class Api:
    """A tiny JSON API: records behaviour per test (first N calls 429, slow responses, auth)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.auth: list[str | None] = []
        self.fail_first = 0
        self.delay = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                api.calls.append(self.path)
                api.auth.append(self.headers.get("Authorization"))
                if api.fail_first > 0:
                    api.fail_first -= 1
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                if api.delay:
                    time.sleep(api.delay)
                page = parse_qs(urlsplit(self.path).query).get("page", ["1"])[0]
                body = json.dumps(PAGES.get(page, {"data": [], "next": None})).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/leads"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    a = Api()
    yield a
    a.close()


def _source(url: str, **conn: Any) -> dict[str, Any]:
    return {"name": "api_leads", "owner": "ops", "kind": "inbound_leads",
            "connector": {"type": "http", "url": url, "records_path": "data", "next_path": "next",
                          "backoff_seconds": 0.01, "timeout_seconds": 2, **conn},
            "mapping": {"id": "source_record_id", "email": "email", "created": "created_at"}}


def test_pages_land_with_bearer_token_and_repeat_lands_nothing(api, make_ctx, engine, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cret-token")
    ctx = make_ctx({"sources": [_source(api.url, token_env="API_TOKEN")]}, engine)
    res = land(ctx)
    assert [r["status"] for r in res] == ["landed", "landed"]
    assert api.calls == ["/leads", "/leads?page=2"]
    assert set(api.auth) == {"Bearer s3cret-token"}
    s = summarise(res)
    assert (s["rows_in"], s["rows_landed"], s["rows_rejected"]) == (3, 2, 1)
    assert [r["source_record_id"] for r in rows(engine)] == ["1", "2"]
    q = quarantined(engine)
    assert len(q) == 1 and "created_at" in q[0]["reasons"][0]
    assert all("s3cret" not in (r["uri"] + str(r["error"])) for r in res)
    again = land(ctx)
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert len(rows(engine)) == 2


def test_page_param_paging(api, make_ctx, engine):
    ctx = make_ctx({"sources": [_source(api.url, next_path=None, page_param="page")]}, engine)
    res = land(ctx)
    assert api.calls == ["/leads?page=1", "/leads?page=2", "/leads?page=3"]   # stops at the empty page
    assert summarise(res)["rows_in"] == 3


def test_429_then_success_is_retried(api, make_ctx, engine):
    api.fail_first = 2
    ctx = make_ctx({"sources": [_source(api.url, max_retries=3)]}, engine)
    res = land(ctx)
    assert api.calls[:3] == ["/leads", "/leads", "/leads"]
    assert [r["status"] for r in res] == ["landed", "landed"]


def test_429_beyond_retries_fails_with_one_line(api, make_ctx, engine):
    api.fail_first = 10
    ctx = make_ctx({"sources": [_source(api.url, max_retries=1)]}, engine)
    r = land(ctx)[0]
    assert r["status"] == "failed"
    assert r["error"].startswith("source api_leads, url http://127.0.0.1:")
    assert "HTTP 429 after 2 attempt(s)" in r["error"]


def test_timeout_fails_this_source_and_others_still_load(api, make_ctx, engine, tmp_path):
    api.delay = 1.5
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "a.csv").write_text("Id,Email\n1,z@x.com\n")
    import os
    os.utime(tmp_path / "landing" / "a.csv", (time.time() - 60, time.time() - 60))
    files_src = {"name": "files", "owner": "ops", "kind": "inbound_leads",
                 "connector": {"type": "file", "path": "landing", "min_age_seconds": 0},
                 "mapping": {"Id": "source_record_id", "Email": "email"}}
    ctx = make_ctx({"sources": [_source(api.url, timeout_seconds=0.3, max_retries=1), files_src]}, engine)
    t0 = time.perf_counter()
    res = land(ctx)
    assert time.perf_counter() - t0 < 5
    by = {r["source"]: r for r in res}
    assert by["api_leads"]["status"] == "failed" and "timed out after 0.3s" in by["api_leads"]["error"]
    assert by["files"]["status"] == "landed" and by["files"]["rows_landed"] == 1


def test_missing_token_env_is_a_one_line_error(api, make_ctx, engine, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    ctx = make_ctx({"sources": [_source(api.url, token_env="NO_SUCH_TOKEN")]}, engine)
    r = land(ctx)[0]
    assert r["status"] == "failed" and "NO_SUCH_TOKEN" in r["error"] and api.calls == []


def test_token_from_airflow_connection(api, make_ctx, engine, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEADS_API", json.dumps({"conn_type": "http", "password": "conn-tok"}))
    ctx = make_ctx({"sources": [_source(api.url, airflow_conn_id="leads_api")]}, engine)
    res = land(ctx)
    assert res[0]["status"] == "landed" and api.auth[0] == "Bearer conn-tok"
