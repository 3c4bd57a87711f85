"""Landing-zone and connector safety (issue 13): links and special files in a landing folder are
refused, never read or written through; the HTTP token never leaves the configured origin."""

from __future__ import annotations

import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadflow.ingest import land, read_mapped, summarise
from leadflow.store.schema import metadata
from tests.ingest_helpers import HEADER, ROWS, lead_source, rows, write

SECRET = "AKIA-TOP-SECRET-0042"


def _ctx(make_ctx, engine, *sources):
    return make_ctx({"sources": list(sources)}, engine)


def _warehouse_text(engine: sa.Engine) -> str:
    """Every value of every leadflow table, as text (to prove a secret landed nowhere)."""
    out = []
    with engine.connect() as c:
        for t in metadata.sorted_tables:
            if sa.inspect(c).has_table(t.name, schema=t.schema):
                out += [repr(tuple(r)) for r in c.execute(sa.select(t))]
    return "\n".join(out)


def _secret_file(tmp_path: Path) -> Path:
    """An outside file that would otherwise land (its header matches the mapping)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    return write(outside / "secrets.csv", f"{HEADER}\n9,{SECRET}@x.com,5,2026-11-01,No,x,{SECRET}\n")


def _one_line(msg: str | None) -> str:
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


# ------------------------------------------------------------------ reading: links, pipes, folders
def test_symlink_to_outside_secret_is_refused_and_never_read(tmp_path, make_ctx, engine, caplog):
    caplog.set_level(logging.DEBUG)
    secret = _secret_file(tmp_path)
    landing = tmp_path / "landing"
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    (landing / "b.csv").symlink_to(secret)
    res = land(_ctx(make_ctx, engine, lead_source()))
    by = {r["uri"]: r for r in res}
    assert by["a.csv"]["status"] == "landed" and by["a.csv"]["rows_landed"] == 3   # the rest still lands
    ref = by["b.csv"]
    assert ref["status"] == "refused" and ref["batch_id"] is None and ref["rows_in"] == 0
    err = _one_line(ref["error"])
    assert err.startswith("source web, file b.csv:") and "symbolic link" in err
    s = summarise(res)
    assert s["refused"] == 1 and err in s["warnings"] and err in s["errors"]
    assert SECRET not in _warehouse_text(engine)
    assert SECRET not in caplog.text
    # left where it was (nothing moved through it), the outside file untouched
    assert (landing / "b.csv").is_symlink() and secret.read_text().count(SECRET) == 2
    assert not (landing / "archive" / "b.csv").exists() and not (landing / "failed").exists()


def test_refused_files_show_in_the_run_record_and_status(tmp_path, make_ctx, engine):
    from leadflow import pipeline
    from leadflow.monitor import run_step
    from leadflow.status import status_rows

    secret = _secret_file(tmp_path)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "b.csv").symlink_to(secret)
    ctx = _ctx(make_ctx, engine, lead_source())
    counts = run_step(ctx, "ingest", pipeline.step_ingest)
    assert counts["refused"] == 1
    _runs, extra = status_rows(engine)
    assert any("source web, file b.csv:" in w and "symbolic link" in w for w in extra["warnings"])


def test_fifo_is_refused_without_hanging(tmp_path, make_ctx, engine):
    landing = tmp_path / "landing"
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    os.mkfifo(landing / "p.csv")
    ctx = _ctx(make_ctx, engine, lead_source())
    box: dict[str, Any] = {}
    t = threading.Thread(target=lambda: box.setdefault("res", land(ctx)), daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():    # unblock the reader so the test process can finish, then fail
        fd = os.open(landing / "p.csv", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("landing hung on a named pipe")
    by = {r["uri"]: r for r in box["res"]}
    assert by["a.csv"]["status"] == "landed"
    assert by["p.csv"]["status"] == "refused" and "named pipe" in _one_line(by["p.csv"]["error"])


def test_directory_named_like_a_data_file_is_reported_not_skipped(tmp_path, make_ctx, engine):
    landing = tmp_path / "landing"
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    (landing / "d.csv").mkdir()
    by = {r["uri"]: r for r in land(_ctx(make_ctx, engine, lead_source()))}
    assert by["a.csv"]["status"] == "landed"
    assert by["d.csv"]["status"] == "refused" and "directory" in _one_line(by["d.csv"]["error"])
    assert (landing / "d.csv").is_dir()


def test_single_file_source_that_is_a_symlink_is_refused(tmp_path, make_ctx, engine):
    secret = _secret_file(tmp_path)
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "leads.csv").symlink_to(secret)
    res = land(_ctx(make_ctx, engine, lead_source("drop/leads.csv", connector={"archive": False})))
    assert [r["status"] for r in res] == ["refused"]
    assert "symbolic link" in _one_line(res[0]["error"])
    assert SECRET not in _warehouse_text(engine)


def test_symlinked_landing_folder_is_refused_and_other_sources_land(tmp_path, make_ctx, engine):
    _secret_file(tmp_path)
    (tmp_path / "landing").symlink_to(tmp_path / "outside", target_is_directory=True)
    write(tmp_path / "other" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    other = lead_source("other", name="other")
    res = land(_ctx(make_ctx, engine, lead_source(), other))
    by = {r["source"]: r for r in res}
    assert by["other"]["status"] == "landed"
    assert by["web"]["status"] == "refused" and "symbolic link" in _one_line(by["web"]["error"])
    assert SECRET not in _warehouse_text(engine)
    assert (tmp_path / "outside" / "secrets.csv").exists()
    assert not (tmp_path / "outside" / "archive").exists()


def test_read_mapped_refuses_a_symlink(tmp_path):
    from leadflow.config import Source
    from leadflow.errors import InputError

    secret = _secret_file(tmp_path)
    (tmp_path / "link.csv").symlink_to(secret)
    src = Source.model_validate(lead_source(str(tmp_path / "link.csv")))
    with pytest.raises(InputError, match="symbolic link") as e:
        read_mapped(src, tmp_path / "link.csv")
    assert SECRET not in str(e.value)


# ------------------------------------------------------------------ writing: archive/ and failed/
@pytest.mark.parametrize("link_name", ["bad.csv.why.txt", "bad.csv"])
def test_symlink_in_failed_is_never_written_through(tmp_path, make_ctx, engine, link_name):
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.txt"
    precious.write_text("precious\n")
    landing = tmp_path / "landing"
    write(landing / "bad.csv", "")                        # empty: a failed delivery
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    (landing / "failed").mkdir()
    (landing / "failed" / link_name).symlink_to(precious)
    res = land(_ctx(make_ctx, engine, lead_source()))
    by = {r["uri"]: r for r in res}
    assert by["a.csv"]["status"] == "landed"
    assert by["bad.csv"]["status"] == "failed" and "empty file" in _one_line(by["bad.csv"]["error"])
    assert precious.read_text() == "precious\n"
    assert (landing / "failed" / link_name).is_symlink()          # left alone
    filed = [p for p in (landing / "failed").iterdir() if not p.is_symlink()]
    notes = [p for p in filed if p.name.endswith(".why.txt")]
    assert len(filed) == 2 and len(notes) == 1 and "empty file" in notes[0].read_text()
    assert not (landing / "bad.csv").exists()
    warning = _one_line(by["bad.csv"]["warning"])             # the planted link is reported
    assert warning.startswith("source web, file bad.csv:") and f"failed/{link_name}" in warning
    assert warning in summarise(res)["warnings"]


def test_symlink_in_archive_is_never_written_through(tmp_path, make_ctx, engine):
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.txt"
    precious.write_text("precious\n")
    landing = tmp_path / "landing"
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    (landing / "archive").mkdir()
    (landing / "archive" / "a.csv").symlink_to(precious)
    res = land(_ctx(make_ctx, engine, lead_source()))
    assert [r["status"] for r in res] == ["landed"]
    assert precious.read_text() == "precious\n"
    assert (landing / "archive" / "a.csv").is_symlink()
    assert (landing / "archive" / "a.1.csv").read_text().startswith(HEADER)
    assert "archive/a.csv" in _one_line(res[0]["warning"]) and "symbolic link" in res[0]["warning"]


@pytest.mark.parametrize("sub", ["archive", "failed"])
def test_archive_or_failed_folder_that_is_a_symlink_refuses_the_source(tmp_path, make_ctx, engine, sub):
    outside = tmp_path / "outside"
    outside.mkdir()
    landing = tmp_path / "landing"
    write(landing / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    (landing / sub).symlink_to(outside, target_is_directory=True)
    write(tmp_path / "other" / "o.csv", "\n".join([HEADER, *ROWS]) + "\n")
    res = land(_ctx(make_ctx, engine, lead_source(), lead_source("other", name="other")))
    by = {r["source"]: r for r in res}
    assert by["other"]["status"] == "landed"
    assert by["web"]["status"] == "refused"
    assert f"{sub}/" in _one_line(by["web"]["error"]) and "symbolic link" in by["web"]["error"]
    assert list(outside.iterdir()) == []                    # nothing written through the link
    assert (landing / "a.csv").exists() and [r["source"] for r in rows(engine)] == ["other"] * 3


# ------------------------------------------------------------------ HTTP: the token stays home
class _Server:
    """A JSON API on 127.0.0.1 that records the path and Authorization header of every request."""

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}
        self.redirect: str | None = None
        self.seen: list[tuple[str, str | None]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                srv.seen.append((self.path, self.headers.get("Authorization")))
                if srv.redirect and self.path.startswith("/go"):
                    self.send_response(302)
                    self.send_header("Location", srv.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(srv.pages.get(self.path, {"data": [], "next": None})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def two_servers():
    a, b = _Server(), _Server()
    yield a, b
    a.close()
    b.close()


TOKEN = "tok-SECRET-9f8e7d"


def _api(url: str, **conn: Any) -> dict[str, Any]:
    return {"name": "api_leads", "owner": "ops", "kind": "inbound_leads",
            "connector": {"type": "http", "url": url, "token_env": "API_TOKEN", "backoff_seconds": 0.01,
                          "timeout_seconds": 5, "max_retries": 0, **conn},
            "mapping": {"id": "source_record_id", "email": "email"}}


def _pages(a: _Server, b: _Server) -> None:
    a.pages["/leads"] = {"data": [{"id": "1", "email": "a@x.com"}],
                         "next": f"{b.base}/steal?page=2&api_key=leaked-{TOKEN}"}
    b.pages["/steal?page=2&api_key=leaked-" + TOKEN] = {"data": [{"id": "2", "email": "b@x.com"}], "next": None}


def test_cross_origin_next_link_is_refused_and_never_gets_the_token(two_servers, make_ctx, engine, monkeypatch,
                                                                     tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    a, b = two_servers
    _pages(a, b)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    res = land(_ctx(make_ctx, engine, _api(a.base + "/leads"), lead_source()))
    assert a.seen == [("/leads", f"Bearer {TOKEN}")]
    assert b.seen == []                                       # not even asked, let alone given the token
    api = [r for r in res if r["source"] == "api_leads"]
    assert [r["status"] for r in api] == ["landed", "refused"]
    err = _one_line(api[1]["error"])
    assert err.startswith("source api_leads, url ") and "another origin" in err and b.base in err
    assert err in summarise(res)["warnings"]
    assert [r["status"] for r in res if r["source"] == "web"] == ["landed"]   # other sources still load
    assert TOKEN not in json.dumps(res) and TOKEN not in caplog.text and TOKEN not in _warehouse_text(engine)


def test_cross_origin_next_link_can_be_followed_without_the_token(two_servers, make_ctx, engine, monkeypatch,
                                                                  caplog):
    caplog.set_level(logging.DEBUG)
    a, b = two_servers
    _pages(a, b)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    res = land(_ctx(make_ctx, engine, _api(a.base + "/leads", cross_origin_next="follow_without_token")))
    assert [r["status"] for r in res] == ["landed", "landed"]
    assert a.seen == [("/leads", f"Bearer {TOKEN}")]
    assert len(b.seen) == 1 and b.seen[0][1] is None          # followed, without credentials
    assert TOKEN not in json.dumps(res) and TOKEN not in caplog.text and TOKEN not in _warehouse_text(engine)


def test_redirect_to_another_origin_drops_the_token(two_servers, make_ctx, engine, monkeypatch):
    a, b = two_servers
    a.redirect = f"{b.base}/leads"
    b.pages["/leads"] = {"data": [{"id": "1", "email": "a@x.com"}], "next": None}
    monkeypatch.setenv("API_TOKEN", TOKEN)
    land(_ctx(make_ctx, engine, _api(a.base + "/go")))
    assert a.seen == [("/go", f"Bearer {TOKEN}")]
    assert [auth for _p, auth in b.seen] == [None]


def test_same_origin_next_link_keeps_the_token(two_servers, make_ctx, engine, monkeypatch):
    a, _b = two_servers
    a.pages["/leads"] = {"data": [{"id": "1", "email": "a@x.com"}], "next": f"{a.base}/leads?page=2"}
    a.pages["/leads?page=2"] = {"data": [{"id": "2", "email": "b@x.com"}], "next": None}
    monkeypatch.setenv("API_TOKEN", TOKEN)
    res = land(_ctx(make_ctx, engine, _api(a.base + "/leads")))
    assert [r["status"] for r in res] == ["landed", "landed"]
    assert [auth for _p, auth in a.seen] == [f"Bearer {TOKEN}"] * 2


def test_logged_urls_carry_no_query_values():
    from leadflow.ingest.connectors.http import redact

    safe = redact(f"https://user:pw@api.example.com/v1/leads?page=3&cursor=abc{TOKEN}&email=a@x.com")
    assert safe.startswith("https://api.example.com/v1/leads?") and "page=3" in safe
    assert TOKEN not in safe and "a@x.com" not in safe and "pw" not in safe
