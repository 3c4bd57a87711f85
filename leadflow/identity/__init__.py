"""Identity resolution: one person, one record, matched to the right account.

Step entry points (used by leadflow.pipeline): ``load_leads(ctx)`` and ``load_touches(ctx)``.
Pure logic lives in ``resolve`` (matching), ``golden`` (survivorship) and ``accounts``; warehouse
I/O in ``store``; people operations (unmerge, review, erase) in ``ops``.
"""

from __future__ import annotations

from leadflow.identity.load import load_leads
from leadflow.identity.touches import load_touches

__all__ = ["load_leads", "load_touches"]
