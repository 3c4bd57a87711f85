"""Lead-list emails: the MIME message (HTML body, plain-text part, CSV/XLSX attachments).

Sending goes through the shared transport in ``leadflow.notify`` (credentials from env vars or
an Airflow connection, never from the YAML), which the failure alerts use too.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from email.message import EmailMessage

from leadflow import notify
from leadflow.config import Smtp
from leadflow.notify import NotifyError


class DeliveryError(NotifyError):
    """Lead lists could not be written or sent; names the folder or SMTP host and the cause
    (never recipients or lead data)."""


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
    """Send lead-list messages through the shared transport (``leadflow.notify``)."""
    return notify.send_all(smtp, messages, on_sent, what="lead lists", error=DeliveryError)
