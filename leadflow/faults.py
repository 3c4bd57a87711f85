"""Fault injection for the crash tests: ``checkpoint(name)`` kills this process on the spot when
``LEADFLOW_FAULT`` names that point.

SIGKILL, not an exception: nothing gets to clean up, commit or log, exactly as with an OOM kill,
a lost worker or a pulled plug. Off (one dict lookup) unless the variable is set.
``LEADFLOW_FAULT`` holds one point or several, comma-separated; ``name@n`` fires at the n-th pass.
"""

from __future__ import annotations

import os
import signal

_passes: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """Die here (SIGKILL) if the crash tests asked for it."""
    wanted = os.environ.get("LEADFLOW_FAULT")
    if not wanted:
        return
    _passes[name] = n = _passes.get(name, 0) + 1
    for point in wanted.split(","):
        point, _, at = point.strip().partition("@")
        if point == name and n == (int(at) if at else 1):
            os.kill(os.getpid(), signal.SIGKILL)
