"""The file connector: which files in a landing folder are ready, reading them, filing them away.

A file is picked up only when it is older than ``min_age_seconds`` and its size did not change
while it was hashed (so a file still being copied in is left for the next run). Processed files
move to ``<landing>/archive/``; rejected ones to ``<landing>/failed/`` beside a
``<file>.why.txt`` note.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from leadflow.config import FileConnector, Source
from leadflow.ingest import formats
from leadflow.ingest.formats import FileProblem, Scan

_IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", ".why.txt")


@dataclass
class FileDelivery:
    path: Path
    landing: Path                      # the folder archive/ and failed/ sit in
    scan: Scan | None = None
    fmt: str = "csv"
    encoding: str = "utf-8-sig"
    line_rejects: list[tuple[int, str, str]] = field(default_factory=list)


def location(conn: FileConnector, base_dir: Path | None) -> Path:
    p = Path(conn.path).expanduser()
    if not p.is_absolute():
        p = (base_dir or Path.cwd()) / p
    return p.resolve()


def landing_dir(conn: FileConnector, base_dir: Path | None) -> Path:
    loc = location(conn, base_dir)
    return loc.parent if loc.is_file() else loc


def candidates(conn: FileConnector, base_dir: Path | None) -> list[Path]:
    """Files the connector covers (a single file, or the folder's matching files), sorted."""
    loc = location(conn, base_dir)
    if loc.is_file():
        return [loc]
    if not loc.is_dir():
        return []
    out = []
    for p in sorted(loc.iterdir()):
        name = p.name
        if not p.is_file() or name.startswith((".", "~$")) or name.endswith(_IGNORED_SUFFIXES):
            continue
        if fnmatch.fnmatch(name, conn.pattern):
            out.append(p)
    return out


_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def name_date(path: Path) -> date | None:
    """The delivery date a file name carries (leads_2026-11-26.csv, spend_20261126.csv), if any."""
    m = _NAME_DATE.search(path.name)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def is_settled(path: Path, min_age: float, now: float | None = None) -> bool:
    """Old enough that nobody is still writing it."""
    st = path.stat()
    return ((now if now is not None else time.time()) - st.st_mtime) >= min_age


def prepare(conn: FileConnector, path: Path, landing: Path) -> FileDelivery:
    """Hash and check a file; raise FileProblem for unreadable ones, None-safe for partial ones."""
    before = path.stat()
    sc = formats.scan(path)
    after = path.stat()
    d = FileDelivery(path, landing, sc)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or sc.size != after.st_size:
        raise StillWriting(path)
    d.fmt = formats.detect_format(path, conn.format)
    if sc.size == 0:
        raise FileProblem("empty file (no header row)")
    if d.fmt in ("csv", "jsonl"):
        d.encoding = formats.choose_encoding(conn, sc)
    return d


class StillWriting(Exception):
    """The file changed while it was read: leave it for the next run."""


def read(conn: FileConnector, d: FileDelivery) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    if d.fmt == "csv":
        return formats.read_csv(d.path, conn, d.encoding)
    if d.fmt == "jsonl":
        return formats.read_jsonl(d.path, conn, d.encoding, d.line_rejects)
    if d.fmt == "parquet":
        return formats.read_parquet(d.path, conn)
    if d.fmt == "xlsx":
        return formats.read_xlsx(d.path, conn)
    raise FileProblem(f"unsupported format {d.fmt!r}")


def _unique_target(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    i = 1
    while target.exists():
        target = folder / f"{Path(name).stem}.{i}{Path(name).suffix}"
        i += 1
    return target


def archive(d: FileDelivery) -> Path:
    target = _unique_target(d.landing / "archive", d.path.name)
    shutil.move(str(d.path), target)
    return target


def fail(path: Path, landing: Path, why: str) -> Path:
    target = _unique_target(landing / "failed", path.name)
    shutil.move(str(path), target)
    target.with_name(target.name + ".why.txt").write_text(why.rstrip() + "\n", encoding="utf-8")
    return target


def source_files(source: Source, path: Path | None, base_dir: Path | None) -> list[Path]:
    """Files to read for ``read_mapped``: an explicit file/folder, else the connector's location."""
    conn = source.connector
    if path is not None:
        p = Path(path)
        if p.is_dir():
            pattern = conn.pattern if isinstance(conn, FileConnector) else "*"
            return [f for f in sorted(p.iterdir()) if f.is_file() and fnmatch.fnmatch(f.name, pattern)
                    and not f.name.startswith(".")]
        return [p]
    if not isinstance(conn, FileConnector):
        return []
    return candidates(conn, base_dir)
