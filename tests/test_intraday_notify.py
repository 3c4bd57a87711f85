"""Speed to lead, the HTTP side of the notifications, against a real local HTTP receiver standing
in for a Slack incoming webhook: one POST per handoff whatever the passes and retries, the lead's
brief in the JSON body, failures (HTTP 500, nothing listening) recorded and retried by the next
pass, and neither the prospect's details nor the webhook URL (a secret) in logs or the outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from leadflow.intraday import receiver
from leadflow.intraday import run as run_intraday
from leadflow.store.schema import handoff_notifications, handoffs
from tests.test_intraday import FORM, MON, config, ictx, rows, text_of
from tests.test_orchestration import free_port
from tests.test_orchestration import smtp_server as _smtp_fixture  # noqa: F401 - fixture, used below

SECRET_PATH = "/services/T000/B000/s3cr3tTOKEN"
PII = ("Dana", "Scully", "dana@acme.test")


class Webhook:
    """A local HTTP server recording every POST; answers with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append({"path": self.path, "type": self.headers.get("Content-Type"),
                                   "json": json.loads(body)})
                code = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"error")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    t = threading.Thread(target=hook.server.serve_forever, daemon=True)
    t.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


@pytest.fixture
def smtp(_smtp_fixture: Any) -> Any:  # noqa: F811 - the imported fixture, by name
    return _smtp_fixture


def _our_logs(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("leadflow"))


def test_slack_and_email_each_tell_the_rep_exactly_once_with_the_brief(
        engine, make_ctx, tmp_path, smtp, webhook, monkeypatch, caplog) -> None:
    monkeypatch.setenv("TEST_SLACK_URL", webhook.url)
    doc = config(tmp_path, smtp.port, channels=["email", "slack"], slack_webhook_env="TEST_SLACK_URL")
    caplog.set_level("DEBUG", logger="leadflow")
    c = ictx(make_ctx, doc, engine, MON + timedelta(minutes=1))
    receiver.land(c.settings, FORM, "demo_request", at=MON)
    out = run_intraday(c)
    assert out["handed_off"] == 1 and out["sent"] == 2
    # the sweep, a retry of the same pass, and a later pass add nothing
    run_intraday(c)
    run_intraday(ictx(make_ctx, doc, engine, MON + timedelta(minutes=6)))
    [post] = webhook.posts
    rep = rows(engine, handoffs).loc[0, "owner_rep"]
    assert post["path"] == SECRET_PATH and post["type"] == "application/json"
    text = post["json"]["text"]
    assert text.startswith(f"@{rep} New lead assigned: Dana Scully")
    assert "dana@acme.test" in text and "SLA: first contact by" in text and "Why now: asked at" in text
    [mail] = smtp.messages
    assert text_of(mail).splitlines() == text.removeprefix(f"@{rep} ").splitlines()   # the same brief
    n = rows(engine, handoff_notifications)
    assert sorted(n["channel"]) == ["email", "slack"] and set(n["status"]) == {"sent"}
    logs = _our_logs(caplog)
    assert logs and not any(p in logs for p in PII) and webhook.url not in logs


@pytest.mark.parametrize("failure", ["http_500", "nothing_listening"])
def test_a_failed_webhook_is_recorded_without_secrets_and_sent_once_by_the_next_pass(
        engine, make_ctx, tmp_path, webhook, monkeypatch, caplog, failure) -> None:
    if failure == "http_500":
        webhook.statuses = [500]
        monkeypatch.setenv("TEST_SLACK_URL", webhook.url)
    else:
        monkeypatch.setenv("TEST_SLACK_URL", f"http://127.0.0.1:{free_port()}{SECRET_PATH}")
    doc = config(tmp_path, channels=["slack"], slack_webhook_env="TEST_SLACK_URL")
    caplog.set_level("DEBUG", logger="leadflow")
    c = ictx(make_ctx, doc, engine, MON + timedelta(minutes=1))
    receiver.land(c.settings, FORM, "contact_sales", at=MON)
    first = run_intraday(c)
    assert first["handed_off"] == 1 and first["sent"] == 0 and first["failed"] == 1
    n = rows(engine, handoff_notifications)
    err = n.loc[0, "error"]
    assert n.loc[0, "status"] == "failed"
    assert err == ("Slack webhook: HTTP 500" if failure == "http_500" else "Slack webhook: URLError")
    monkeypatch.setenv("TEST_SLACK_URL", webhook.url)          # the receiver is back
    again = run_intraday(ictx(make_ctx, doc, engine, MON + timedelta(minutes=2)))
    assert again["handed_off"] == 0 and again["sent"] == 1
    assert run_intraday(ictx(make_ctx, doc, engine, MON + timedelta(minutes=3)))["sent"] == 0
    delivered = [p for p in webhook.posts if "Dana Scully" in p["json"]["text"]]
    assert len(webhook.posts) == (2 if failure == "http_500" else 1) and len(delivered) >= 1
    n = rows(engine, handoff_notifications)
    assert n.loc[0, "status"] == "sent" and int(n.loc[0, "attempts"]) == 2
    logs = _our_logs(caplog)
    assert "Slack webhook" in logs
    assert not any(p in logs for p in PII) and SECRET_PATH not in logs
    assert SECRET_PATH not in str(err) and "Dana" not in str(err)


def test_slack_without_a_webhook_url_fails_the_notification_not_the_pass(
        engine, make_ctx, tmp_path, webhook, monkeypatch) -> None:
    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    doc = config(tmp_path, channels=["slack"], slack_webhook_env="TEST_SLACK_URL")
    c = ictx(make_ctx, doc, engine, MON + timedelta(minutes=1))
    receiver.land(c.settings, FORM, "pricing_chat", at=MON)
    out = run_intraday(c)
    assert out["handed_off"] == 1 and out["failed"] == 1 and not webhook.posts
    n = rows(engine, handoff_notifications)
    assert n.loc[0, "status"] == "failed" and "TEST_SLACK_URL" in n.loc[0, "error"]
