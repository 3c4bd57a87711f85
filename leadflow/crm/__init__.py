"""Reverse ETL: handoffs pushed to CRMs (HubSpot, Salesforce) through the ``crm_outbox``.

Comes after the handoff stage (it reads the queue); the feedback stage may match outcomes by the
CRM ids it stores (``leadflow.store.crm_outbox.lookup``).
"""

from __future__ import annotations

from typing import Any

from leadflow.context import RunContext


def push(ctx: RunContext, destination: str | None = None) -> dict[str, Any]:
    """Push the run date's handoffs (and due withdrawals) to one or every enabled destination."""
    from leadflow.crm.pusher import push as _push
    return _push(ctx, destination)


__all__ = ["push"]
