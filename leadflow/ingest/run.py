"""``land`` and ``summarise``: run the registry's connectors, one failing source never stopping the rest."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from leadflow.context import RunContext
from leadflow.errors import LeadflowError
from leadflow.ingest import registry
from leadflow.ingest.landing import result

log = logging.getLogger("leadflow.ingest")


def _connector(kind: str) -> Callable[..., list[dict[str, Any]]]:
    if kind == "file":
        from leadflow.ingest.connectors import file
        return file.land_source
    if kind == "sql":
        from leadflow.ingest.connectors import sql
        return sql.land_source
    if kind == "http":
        from leadflow.ingest.connectors import http
        return http.land_source
    raise LeadflowError(f"unknown connector type {kind!r}")


def land(ctx: RunContext, sources: list[str] | None = None,
         progress: Callable[[str, int], None] | None = None) -> list[dict[str, Any]]:
    """Land every selected source; returns one result dict per delivery (batch).

    Each dict: source, kind, uri, batch_id, rows_in, rows_landed, rows_rejected, status
    (landed | duplicate | failed | waiting | empty | refused), error (one line or None), note,
    and optionally warning (one line: e.g. a link found where the file was filed away).
    """
    results: list[dict[str, Any]] = []
    for src in registry.select(ctx.settings, sources):
        cb = (lambda n, name=src.name: progress(name, n)) if progress else None
        try:
            res = _connector(src.connector.type)(ctx, src, cb)
        except LeadflowError as e:
            res = [result(src, getattr(src.connector, "path", None) or getattr(src.connector, "url", None)
                          or src.connector.type, status="failed", error=str(e))]
        except Exception as e:  # noqa: BLE001 - one broken source must not stop the others
            # Only the error class: database errors quote the offending values (possible PII).
            log.error("source %s failed: %s", src.name, type(e).__name__)
            res = [result(src, src.connector.type, status="failed",
                          error=f"source {src.name}: unexpected {type(e).__name__} "
                                "(set LEADFLOW_DEBUG=1 and run `leadflow ingest` for details)")]
            if os.environ.get("LEADFLOW_DEBUG"):
                raise
        for r in res:
            for k in ("error", "warning"):
                if r.get(k):
                    log.warning("%s", r[k])
        results.extend(res)
    return results


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and per-source counts of a ``land`` call.

    Refused entries (links, pipes, folders in a landing folder) and filing-away warnings are
    listed under ``warnings``, which makes the recorded step a warning in ``leadflow status``.
    """
    out: dict[str, Any] = {"batches": 0, "rows_in": 0, "rows_landed": 0, "rows_rejected": 0,
                           "duplicates": 0, "waiting": 0, "failed": 0, "refused": 0, "errors": [],
                           "warnings": [], "sources": {}}
    for r in results:
        per = out["sources"].setdefault(r["source"], {"batches": 0, "rows_in": 0, "rows_landed": 0,
                                                     "rows_rejected": 0, "failed": 0, "refused": 0})
        if r.get("batch_id") is not None and r["status"] == "landed":
            out["batches"] += 1
            per["batches"] += 1
        for k in ("rows_in", "rows_landed", "rows_rejected"):
            out[k] += int(r.get(k) or 0)
            per[k] += int(r.get(k) or 0)
        if r["status"] == "duplicate":
            out["duplicates"] += 1
        elif r["status"] == "waiting":
            out["waiting"] += 1
        elif r["status"] == "failed":
            out["failed"] += 1
            per["failed"] += 1
        elif r["status"] == "refused":
            out["refused"] += 1
            per["refused"] += 1
            out["warnings"].append(r["error"])
        if r.get("error"):
            out["errors"].append(r["error"])
        if r.get("warning"):
            out["warnings"].append(r["warning"])
    return out
