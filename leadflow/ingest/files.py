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

from leadflow.config import FileConnector, IngestLimits, Source
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
    line_rejects: list = field(default_factory=list)   # (row, text, why) or formats.RowReject
    limits: IngestLimits | None = None                  # the source's caps (None: defaults)
    warnings: list[str] = field(default_factory=list)   # e.g. last line without a line end


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


def prepare(conn: FileConnector, path: Path, landing: Path, limits: IngestLimits | None = None) -> FileDelivery:
    """Hash and check a file; raise FileProblem for unreadable ones, None-safe for partial ones."""
    before = path.stat()
    sc = formats.scan(path, conn.quotechar)
    after = path.stat()
    d = FileDelivery(path, landing, sc, limits=limits)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or sc.size != after.st_size:
        raise StillWriting(path)
    d.fmt = formats.detect_format(path, conn.format)
    if sc.size == 0:
        raise FileProblem("empty file (no header row)")
    if d.fmt in ("csv", "jsonl"):
        try:
            d.encoding = formats.choose_encoding(conn, sc)
            check_text_caps(conn, d)
        except FileProblem as e:
            e.rows = estimate_rows(d)
            raise
    return d


def check_text_caps(conn: FileConnector, d: FileDelivery) -> None:
    """Caps a text file must meet before any parser sees it: the header's width (CSV) and the
    longest physical line (``max_row_bytes``), so parser memory stays bounded."""
    lim = d.limits or IngestLimits()
    assert d.scan is not None
    if d.fmt == "csv":
        sep = formats.sniff_delimiter(d.path, d.encoding, conn.delimiter)
        formats.csv_header(d.path, d.encoding, sep, conn.quotechar, lim)
    if d.scan.max_line > lim.max_row_bytes:
        raise FileProblem(f"line {d.scan.max_line_no} is {d.scan.max_line:,} bytes, longer than "
                          f"max_row_bytes ({lim.max_row_bytes})")


def estimate_rows(d: FileDelivery) -> int:
    """How many rows a refused file held, so its batch records rows_in = rows_rejected: non-blank
    lines (less the CSV header) for text, the footer's count for Parquet, else 0 (unknown)."""
    sc = d.scan
    if d.fmt in ("csv", "jsonl") and sc is not None:
        return max(sc.lines - (1 if d.fmt == "csv" else 0), 0)
    if d.fmt == "parquet":
        try:
            import pyarrow.parquet as pq
            return int(pq.ParquetFile(d.path).metadata.num_rows)
        except Exception:  # noqa: BLE001 - an unreadable footer: unknown
            return 0
    return 0


class StillWriting(Exception):
    """The file changed while it was read: leave it for the next run."""


def read(conn: FileConnector, d: FileDelivery) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    # CSV measures cell lengths in Arrow itself (cells=False): cheaper than per-column pandas
    return formats.bounded(_read(conn, d), d.limits, d.line_rejects, cells=d.fmt != "csv")


def _read(conn: FileConnector, d: FileDelivery) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    if d.fmt == "csv":
        return formats.read_csv(d.path, conn, d.encoding, d.limits, d.line_rejects, d.warnings, d.scan)
    if d.fmt == "jsonl":
        return formats.read_jsonl(d.path, conn, d.encoding, d.line_rejects, d.limits)
    if d.fmt == "parquet":
        return formats.read_parquet(d.path, conn, d.limits)
    if d.fmt == "xlsx":
        return formats.read_xlsx(d.path, conn, d.limits)
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
