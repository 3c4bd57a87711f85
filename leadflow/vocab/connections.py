"""Reading an Airflow connection: the one place the pipeline asks Airflow for credentials.

Works inside a task (Task SDK) and outside one (``AIRFLOW_CONN_<ID>`` environment variables,
which the SDK's ``Connection.get`` reads through its secrets backends). A missing or unreadable
connection is one line naming who asked and the connection id, never a traceback or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadflow.errors import LeadflowError


@dataclass(frozen=True)
class ConnInfo:
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


def airflow_connection(conn_id: str, who: str, error: type[LeadflowError] = LeadflowError) -> ConnInfo:
    """The connection ``conn_id`` as plain values; ``who`` (e.g. "source crm", "delivery.smtp")
    starts the error message, raised as ``error``."""
    try:
        from airflow.sdk import Connection
        c = Connection.get(conn_id)
    except Exception as e:  # noqa: BLE001 - Airflow raises several types when a conn is missing
        raise error(f"{who}: cannot read Airflow connection {conn_id!r}: {type(e).__name__}") from None
    extra = getattr(c, "extra_dejson", None)
    return ConnInfo(host=c.host or None, port=int(c.port) if c.port else None, login=c.login or None,
                    password=c.password or None, schema=getattr(c, "schema", None) or None,
                    extra=dict(extra) if isinstance(extra, dict) else {})
