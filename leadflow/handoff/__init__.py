"""The sales handoff: the queue (exactly once per person per cycle) and the daily lead lists.

- ``queue(ctx)``: qualify → suppress → route → insert handoffs (see ``leadflow.handoff.queue``);
- ``deliver(ctx)``: per-rep CSV/XLSX/HTML lead lists for ctx.run_date, emailed when enabled.
"""

from __future__ import annotations

from typing import Any

from leadflow.context import RunContext


def queue(ctx: RunContext) -> dict[str, Any]:
    """Qualify, suppress, route and queue the run date's MQLs; flag breached SLAs."""
    from leadflow.handoff.enqueue import queue as _queue
    return _queue(ctx)


def deliver(ctx: RunContext) -> dict[str, Any]:
    """Write (and email) each rep's lead list for the run date."""
    from leadflow.handoff.delivery import deliver as _deliver
    return _deliver(ctx)


__all__ = ["queue", "deliver"]
