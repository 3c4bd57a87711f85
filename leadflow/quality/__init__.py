"""Data quality: Great Expectations suites in ``expectations/`` and a quarantine people work.

Entry points (see docs/quality.md):
- ``validate_all(ctx)`` — every ``stg_*`` row in state ``landed`` becomes ``passed`` or
  ``quarantined`` (with the names of the expectations it failed); returns counts;
- ``validate_frame(kind, df, as_of, ...)`` — split any frame (e.g. the outgoing handoff list)
  into passing rows and failing rows with a ``reasons`` column.
"""

from __future__ import annotations

from typing import Any

__all__ = ["validate_all", "validate_frame"]


def __getattr__(name: str) -> Any:
    if name == "validate_frame":
        from leadflow.quality.frame import validate_frame
        return validate_frame
    if name == "validate_all":
        from leadflow.quality.run import validate_all
        return validate_all
    raise AttributeError(f"module 'leadflow.quality' has no attribute {name!r}")
