"""File connector: land each ready file in the landing folder (or the single configured file)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadflow.config import FileConnector, Source
from leadflow.context import RunContext
from leadflow.ingest import files, formats
from leadflow.ingest.formats import FileProblem
from leadflow.ingest.landing import Delivery, already_landed, land_delivery, record_failed, result, where


def land_source(ctx: RunContext, src: Source, progress: Callable[[int], None] | None = None,
                now: float | None = None) -> list[dict[str, Any]]:
    conn = src.connector
    assert isinstance(conn, FileConnector)
    base = ctx.settings.base_dir
    loc = files.location(conn, base)
    if not loc.exists():
        if loc.suffix.lower() in formats.SUFFIX_FORMAT:     # a single file that is not there
            return [result(src, loc.name, status="failed",
                           error=f"source {src.name}, file {loc.name}: not found at {loc}")]
        # A landing folder nobody has dropped anything in yet: make it, nothing to land.
        loc.mkdir(parents=True, exist_ok=True)
        return []
    landing = files.landing_dir(conn, base)
    out: list[dict[str, Any]] = []
    clock = now if now is not None else time.time()
    for path in files.candidates(conn, base):
        try:
            res = _one_file(ctx, src, conn, path, landing, clock, progress)
        except FileNotFoundError:
            continue        # moved away meanwhile by a concurrent run, which lands it
        out.append(res)
    return out


def _one_file(ctx: RunContext, src: Source, conn: FileConnector, path: Path, landing: Path, clock: float,
              progress: Callable[[int], None] | None) -> dict[str, Any]:
    name = path.name
    dated = files.name_date(path) if conn.dated_names else None
    if dated is not None and dated > ctx.run_date:
        # Backfills and re-runs of a past day must not land a later day's delivery.
        return result(src, name, status="waiting", note=f"dated {dated}, after the run date")
    if not files.is_settled(path, conn.min_age_seconds, clock):
        return result(src, name, status="waiting",
                      note=f"younger than {conn.min_age_seconds:g}s; may still be being written")
    try:
        d = files.prepare(conn, path, landing, src.limits)
    except files.StillWriting:
        return result(src, name, status="waiting", note="changed while being read")
    except FileProblem as e:
        why = f"{where(src, name, e.row, e.field)}: {e.why}"
        rows = e.rows or 0
        bid = record_failed(ctx, src, name, "unread", why, rows)
        if conn.archive:
            files.fail(path, landing, why)
        return result(src, name, status="failed", error=why, batch_id=bid, rows_in=rows, rows_rejected=rows)
    except FileNotFoundError:
        raise                   # moved away by a concurrent run, which lands it
    except Exception as e:  # noqa: BLE001 - one unreadable file must not block the source's later ones
        why = f"{where(src, name)}: unexpected {type(e).__name__} while checking it; set aside"
        bid = record_failed(ctx, src, name, "unread", why)
        if conn.archive:
            try:
                files.fail(path, landing, why)
            except OSError:
                pass            # cannot even be moved: reported; the next files still land
        return result(src, name, status="failed", error=why, batch_id=bid)
    assert d.scan is not None
    if already_landed(ctx.engine, src.name, d.scan.sha256):
        if conn.archive:
            files.archive(d)
        return result(src, name, status="duplicate", note="same content already landed")
    delivery = Delivery(src, name, name, lambda: files.read(conn, d), content_hash=d.scan.sha256,
                        line_rejects=d.line_rejects, warnings=d.warnings,
                        rows_hint=lambda: files.estimate_rows(d), clean_text=d.fmt == "csv")
    res = land_delivery(ctx, delivery, progress)
    if conn.archive:
        try:
            if res["status"] == "failed":
                files.fail(path, landing, res["error"] or "failed")
            else:
                files.archive(d)
        except FileNotFoundError:
            pass            # a concurrent run archived it already
    return res
