"""File connector: land each ready file in the landing folder (or the single configured file).

Entries that are not regular files (links, pipes, folders, devices) are refused with one line
each and left untouched; a landing folder that is itself a link, or whose ``archive/`` or
``failed/`` is not a real folder, refuses the whole source (see ``files``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadflow.config import FileConnector, Source, is_local
from leadflow.context import RunContext
from leadflow.ingest import files, formats
from leadflow.ingest.formats import FileProblem
from leadflow.ingest.landing import Delivery, already_landed, land_delivery, record_failed, result, where


def land_source(ctx: RunContext, src: Source, progress: Callable[[int], None] | None = None,
                now: float | None = None) -> list[dict[str, Any]]:
    conn = src.connector
    assert isinstance(conn, FileConnector)
    if not is_local(ctx.settings.shared(conn.path)):    # object storage (s3://, gs://, ...)
        from leadflow.ingest.connectors import objects
        return objects.land_source(ctx, src, progress, now)
    base = ctx.settings.storage_root
    loc = files.location(conn, base)
    if files.lstat(loc) is None:
        if loc.suffix.lower() in formats.SUFFIX_FORMAT:     # a single file that is not there
            return [result(src, loc.name, status="failed",
                           error=f"source {src.name}, file {loc.name}: not found at {loc}")]
        # A landing folder nobody has dropped anything in yet: make it, nothing to land.
        loc.mkdir(parents=True, exist_ok=True)
        return []
    unsafe = files.unsafe_landing(conn, base)
    if unsafe:
        folder = loc.name if loc.is_dir() else loc.parent.name
        return [result(src, folder, status="refused", error=f"source {src.name}, folder {folder}: {unsafe}")]
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


def _refused(src: Source, name: str, why: str) -> dict[str, Any]:
    return result(src, name, status="refused", error=f"{where(src, name)}: {why}")


def _one_file(ctx: RunContext, src: Source, conn: FileConnector, path: Path, landing: Path, clock: float,
              progress: Callable[[int], None] | None) -> dict[str, Any]:
    name = path.name
    kind = files.entry_kind(os.lstat(path))
    if kind:
        return _refused(src, name, files.refusal(kind))
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
    except files.Refused as e:       # swapped for a link or a pipe since it was listed
        return _refused(src, name, e.why)
    except FileProblem as e:
        why = f"{where(src, name, e.row, e.field)}: {e.why}"
        rows = e.rows or 0
        bid = record_failed(ctx, src, name, "unread", why, rows)
        res = result(src, name, status="failed", error=why, batch_id=bid, rows_in=rows, rows_rejected=rows)
        if conn.archive:
            _file_away(src, res, lambda: files.fail(path, landing, why))
        return res
    except FileNotFoundError:
        raise                   # moved away by a concurrent run, which lands it
    except Exception as e:  # noqa: BLE001 - one unreadable file must not block the source's later ones
        why = f"{where(src, name)}: unexpected {type(e).__name__} while checking it; set aside"
        bid = record_failed(ctx, src, name, "unread", why)
        res = result(src, name, status="failed", error=why, batch_id=bid)
        if conn.archive:
            try:
                _file_away(src, res, lambda: files.fail(path, landing, why))
            except OSError:
                pass            # cannot even be moved: reported; the next files still land
        return res
    with d:
        assert d.scan is not None
        if already_landed(ctx.engine, src.name, d.scan.sha256):
            res = result(src, name, status="duplicate", note="same content already landed")
            if conn.archive:
                _file_away(src, res, lambda: files.archive(d))
            return res
        delivery = Delivery(src, name, name, lambda: files.read(conn, d), content_hash=d.scan.sha256,
                            line_rejects=d.line_rejects, warnings=d.warnings,
                            rows_hint=lambda: files.estimate_rows(d), clean_text=d.fmt == "csv")
        res = land_delivery(ctx, delivery, progress)
        if conn.archive:
            if res["status"] == "failed":
                _file_away(src, res, lambda: files.fail(path, landing, res["error"] or "failed"))
            else:
                _file_away(src, res, lambda: files.archive(d))
    return res


def _file_away(src: Source, res: dict[str, Any], move: Callable[[], tuple[Path, str | None]]) -> None:
    """Move the file to archive/ or failed/; a link found there or an unsafe folder is a warning
    on the result (the file then stays where it is), never a crash."""
    try:
        _target, warning = move()
    except FileNotFoundError:
        return              # a concurrent run filed it away already
    except files.UnsafeFolder as e:
        warning = f"not moved: {e}"
    if warning:
        res["warning"] = f"{where(src, res['uri'])}: {warning}"
