"""Ingestion: land every delivered record once, with lineage, or reject it with a reason.

Entry points (see docs/ingest.md):
- ``land(ctx, sources=None)`` — run the registered sources' connectors into ``stg_<kind>``;
- ``summarise(results)`` — the counts of a ``land`` call;
- ``read_mapped(source, path=None, base_dir=None)`` — a source's files as one typed frame.

Heavy modules load lazily so that importing this package (e.g. from a DAG file) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["land", "summarise", "read_mapped"]


def __getattr__(name: str) -> Any:
    if name == "read_mapped":
        from leadflow.ingest.reader import read_mapped
        return read_mapped
    if name in ("land", "summarise"):
        from leadflow.ingest import run
        return getattr(run, name)
    raise AttributeError(f"module 'leadflow.ingest' has no attribute {name!r}")
