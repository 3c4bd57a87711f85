"""Telling people: email over SMTP (plain, STARTTLS or SSL) and Slack incoming webhooks.

One transport for everything leadflow sends — lead lists (``handoff``) and failure or deadline
alerts (``orchestration``) — so credentials resolve the same way everywhere: environment
variables named in ``delivery.smtp`` (``username_env``, ``password_env``) or an Airflow
connection (``airflow_conn_id``: its host, port, login and password override the YAML).
Errors are one line naming the server and the cause, never recipients or message content.
Standard library only at import time: DAG files import the alert callbacks that use it.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from leadflow.errors import LeadflowError

if TYPE_CHECKING:
    from leadflow.config import Smtp


class NotifyError(LeadflowError):
    """A message could not be sent; names the server and the cause (never recipients)."""


@dataclass
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None


def resolve(smtp: Smtp, error: type[LeadflowError] = NotifyError) -> SmtpTarget:
    """Host, port and credentials from the YAML, env vars or an Airflow connection."""
    host, port = smtp.host, smtp.port
    user = os.environ.get(smtp.username_env) if smtp.username_env else None
    pwd = os.environ.get(smtp.password_env) if smtp.password_env else None
    if smtp.airflow_conn_id:
        from leadflow.vocab.connections import airflow_connection
        conn = airflow_connection(smtp.airflow_conn_id, "delivery.smtp", error)
        host = conn.host or host
        port = int(conn.port or port)
        user = conn.login or user
        pwd = conn.password or pwd
    return SmtpTarget(host, port, user, pwd)


def send_all(smtp: Smtp, messages: list[EmailMessage], on_sent: Callable[[int], None] | None = None,
             what: str = "email", error: type[LeadflowError] = NotifyError) -> int:
    """Send messages over one connection; returns how many were accepted.

    ``on_sent(i)`` runs right after the server accepted message ``i`` (an outbox marks it sent
    there, so a failure later in the batch never re-sends the messages before it)."""
    if not messages:
        return 0
    t = resolve(smtp, error)
    try:
        if smtp.ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=smtp.timeout_seconds,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(t.host, t.port, timeout=smtp.timeout_seconds)
        with server:
            server.ehlo()
            if smtp.starttls and not smtp.ssl:
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            if t.username:
                server.login(t.username, t.password or "")
            sent = 0
            for m in messages:
                server.send_message(m)
                if on_sent is not None:
                    on_sent(sent)
                sent += 1
            return sent
    except smtplib.SMTPException as e:  # messages may name recipients: code and type only
        code = getattr(e, "smtp_code", "")
        raise error(f"{what} not emailed: SMTP {t.host}:{t.port}: {type(e).__name__} {code}".rstrip()) from None
    except OSError as e:
        raise error(f"{what} not emailed: SMTP {t.host}:{t.port}: "
                    f"{type(e).__name__}: {e.strerror or e}") from None


def send_text(smtp: Smtp, recipients: list[str], subject: str, body: str) -> None:
    """One plain-text email (an alert) through the same transport as the lead lists."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(body)
    send_all(smtp, [msg], what="alert")


def send_slack(url: str, text: str, timeout: float = 10.0) -> None:
    """Post ``text`` to a Slack incoming webhook."""
    req = urllib.request.Request(url, data=json.dumps({"text": text}).encode("utf-8"),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL from operator's env
        resp.read()
