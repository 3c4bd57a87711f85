"""Sending lead lists over SMTP (plain, STARTTLS or SSL), credentials never in the YAML.

Credentials come from environment variables named in ``delivery.smtp`` (``username_env``,
``password_env``) or from an Airflow connection (``airflow_conn_id``: host, port, login and
password of the connection override the YAML).
"""

from __future__ import annotations

import mimetypes
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from leadflow.config import Smtp
from leadflow.errors import LeadflowError


class DeliveryError(LeadflowError):
    """Lead lists could not be written or sent; names the folder or SMTP host and the cause
    (never recipients or lead data)."""


@dataclass
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None


def resolve(smtp: Smtp) -> SmtpTarget:
    """Host, port and credentials from the YAML, env vars or an Airflow connection."""
    host, port = smtp.host, smtp.port
    user = os.environ.get(smtp.username_env) if smtp.username_env else None
    pwd = os.environ.get(smtp.password_env) if smtp.password_env else None
    if smtp.airflow_conn_id:
        try:
            from airflow.sdk import BaseHook
            conn = BaseHook.get_connection(smtp.airflow_conn_id)
        except Exception as e:  # noqa: BLE001 - any failure to read the connection is one line
            raise DeliveryError(f"delivery.smtp: cannot read Airflow connection "
                                f"{smtp.airflow_conn_id!r}: {type(e).__name__}") from None
        host = conn.host or host
        port = int(conn.port or port)
        user = conn.login or user
        pwd = conn.password or pwd
    return SmtpTarget(host, port, user, pwd)


def build_message(sender: str, to: str, subject: str, html: str, text: str,
                  attachments: dict[str, bytes]) -> EmailMessage:
    """One message; attachments are file name → content (the bytes that were published, never
    re-read from a folder another run may be replacing)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, data in attachments.items():
        ctype, _ = mimetypes.guess_type(name)
        if name.endswith(".xlsx"):
            ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def send_all(smtp: Smtp, messages: list[EmailMessage],
             on_sent: Callable[[int], None] | None = None) -> int:
    """Send messages over one connection; returns how many were accepted.

    ``on_sent(i)`` runs right after the server accepted message ``i`` (the outbox marks it sent
    there, so a failure later in the batch never re-sends the messages before it)."""
    if not messages:
        return 0
    t = resolve(smtp)
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
        raise DeliveryError(f"lead lists not emailed: SMTP {t.host}:{t.port}: "
                            f"{type(e).__name__} {code}".rstrip()) from None
    except OSError as e:
        raise DeliveryError(f"lead lists not emailed: SMTP {t.host}:{t.port}: "
                            f"{type(e).__name__}: {e.strerror or e}") from None
