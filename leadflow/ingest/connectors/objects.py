"""File connector on object storage: a landing folder at an ``s3://``, ``gs://``... location
(``storage.url`` or the connector's own ``path``), so every worker lands from the same place.

Each ready object is copied to a private temporary folder of this task (mode 0700, removed
afterwards) and landed from that copy with exactly the checks of a local file (hash, caps,
formats, dated names, ``min_age_seconds`` on the object's modified time); the object is then
filed into ``archive/`` or ``failed/`` (with its ``.why.txt``) beside it, as locally.

What replaces the local link checks: object stores have no symbolic links, pipes or devices,
and a key is only ever replaced whole (one PUT), so there is nothing to follow or to swap
half-way through a read. What stays: an object replaced while it was copied (its size or ETag
changed) is left for the next run, and ``archive/`` and ``failed/`` are only ever written by
leadflow under the landing prefix (access to that prefix is the bucket policy's job).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadflow.config import FileConnector, Source
from leadflow.context import RunContext
from leadflow.ingest import files, formats
from leadflow.ingest.landing import result
from leadflow.store import shared


def land_source(ctx: RunContext, src: Source, progress: Callable[[int], None] | None = None,
                now: float | None = None) -> list[dict[str, Any]]:
    conn = src.connector
    assert isinstance(conn, FileConnector)
    loc = ctx.settings.shared(conn.path)
    single = loc.suffix.lower() in formats.SUFFIX_FORMAT
    landing = loc.parent if single else loc
    listed = [e for e in shared.entries(landing)
              if (e.name == loc.name if single else files.wanted(e.name, conn.pattern))]
    if single and not listed:
        return [result(src, loc.name, status="failed",
                       error=f"source {src.name}, file {loc.name}: not found at {loc}")]
    clock = now if now is not None else time.time()
    out = []
    with tempfile.TemporaryDirectory(prefix="leadflow-land-") as tmp:
        for i, e in enumerate(listed):
            work = Path(tmp) / str(i)
            work.mkdir()
            try:
                out.append(_one_object(ctx, src, conn, landing, e, work, clock, progress))
            except FileNotFoundError:
                continue        # filed away meanwhile by a concurrent run, which lands it
    return out


def _one_object(ctx: RunContext, src: Source, conn: FileConnector, landing: Path, e: shared.Entry,
                work: Path, clock: float, progress: Callable[[int], None] | None) -> dict[str, Any]:
    from leadflow.ingest.connectors.file import _one_file

    copy = work / e.name
    if not shared.fetch(landing / e.name, copy, e):
        return result(src, e.name, status="waiting", note="changed while being read")
    os.utime(copy, (e.mtime, e.mtime))
    res = _one_file(ctx, src, conn, copy, work, clock, progress)
    if conn.archive:
        _file_away(landing, e.name, work)
    return res


def _file_away(landing: Path, name: str, work: Path) -> None:
    """Do to the object what the local landing did to its copy: into archive/ or failed/."""
    for sub in ("archive", "failed"):
        moved = sorted(p for p in (work / sub).glob("*") if not p.name.endswith(".why.txt"))
        if not moved:
            continue
        target = shared.move(landing / name, landing / sub)
        note = moved[0].with_name(moved[0].name + ".why.txt")
        if note.is_file():
            shared.put(target.with_name(target.name + ".why.txt"), note.read_bytes())
        return
