"""The file connector: which files in a landing folder are ready, reading them, filing them away.

A file is picked up only when it is older than ``min_age_seconds`` and its size did not change
while it was hashed (so a file still being copied in is left for the next run). Processed files
move to ``<landing>/archive/``; rejected ones to ``<landing>/failed/`` beside a
``<file>.why.txt`` note.

Landing folders are written to by other people, so nothing in them is trusted: an entry that is
not a regular file (a symbolic link, a named pipe, a folder, a device) is refused and never
opened or moved; data files are opened without following links and read through that one open
descriptor; moves and notes go only into real ``archive/`` and ``failed/`` folders and never
write through a link found there.
"""

from __future__ import annotations

import dataclasses
import errno
import fnmatch
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from leadflow.config import FileConnector, IngestLimits, Source
from leadflow.ingest import formats
from leadflow.ingest.formats import FileProblem, Scan

_IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", ".why.txt")
_SUBFOLDERS = ("archive", "failed")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = (os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_DIR_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_LINK_ERRNOS = {errno.ELOOP, errno.EMLINK, errno.ENOTDIR}   # what O_NOFOLLOW says for a link
_FD_DIR = Path("/proc/self/fd")


class Refused(FileProblem):
    """An entry that is not a regular file: never opened, never moved, reported as refused."""


class UnsafeFolder(Exception):
    """``archive/`` or ``failed/`` is not a real folder (e.g. a link elsewhere): nothing is moved."""


def entry_kind(st: os.stat_result) -> str | None:
    """What a non-regular entry is, for the refusal message (None for a regular file)."""
    m = st.st_mode
    if stat.S_ISREG(m):
        return None
    if stat.S_ISLNK(m):
        return "a symbolic link"
    if stat.S_ISFIFO(m):
        return "a named pipe (FIFO)"
    if stat.S_ISDIR(m):
        return "a directory"
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        return "a device file"
    if stat.S_ISSOCK(m):
        return "a socket"
    return "a special file"


def refusal(kind: str) -> str:
    """The one-line reason given for a refused entry."""
    return (f"refused: {kind}, not a regular file; it was not read or moved "
            "(deliver the file itself and remove this entry)")


def lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


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
    fd: int | None = None              # the file as opened (no links followed); read through this
    readable: Path | None = None       # a name the readers can open that reaches ``fd``
    ident: tuple[int, int] | None = None   # (device, inode) of what was read
    transcoded: Path | None = None     # a UTF-8 copy read instead (UTF-16/32, 'sep=' line); removed on close
    delimiter: str | None = None       # named by the file's own 'sep=' line

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.transcoded is not None:
            self.transcoded.unlink(missing_ok=True)
            self.transcoded = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def location(conn: FileConnector, base_dir: Path | None) -> Path:
    """The configured folder or file: its parent folders resolved, its own name not (a link
    dropped in place of a single delivery file must be seen as a link, not followed)."""
    p = Path(conn.path).expanduser()
    if not p.is_absolute():
        p = (base_dir or Path.cwd()) / p
    return p.resolve() if p.name in ("", "..") else p.parent.resolve() / p.name


def landing_dir(conn: FileConnector, base_dir: Path | None) -> Path:
    loc = location(conn, base_dir)
    st = lstat(loc)
    return loc if st is not None and stat.S_ISDIR(st.st_mode) else loc.parent


def unsafe_landing(conn: FileConnector, base_dir: Path | None) -> str | None:
    """Why a source's landing folder must not be touched at all, or None.

    The configured folder (or single file) must not itself be a link: whoever can swap it for
    one could point leadflow at any folder it can read and move files in. ``archive/`` and
    ``failed/`` must be real folders when files are filed away.
    """
    loc = location(conn, base_dir)
    st = lstat(loc)
    if st is not None and stat.S_ISLNK(st.st_mode) and loc.is_dir():
        return ("refused: the landing folder is a symbolic link; nothing was read "
                "(set connector.path to the real folder)")
    if not conn.archive:
        return None
    landing = landing_dir(conn, base_dir)
    for sub in _SUBFOLDERS:
        sst = lstat(landing / sub)
        if sst is not None and not stat.S_ISDIR(sst.st_mode):
            return (f"refused: {sub}/ is {entry_kind(sst)}, not a real folder inside the landing folder; "
                    f"nothing was read or moved (make {sub}/ a real folder)")
    return None


def wanted(name: str, pattern: str) -> bool:
    """A name the connector covers: matches ``pattern``, not hidden, not a partial download."""
    return (not name.startswith((".", "~$")) and not name.endswith(_IGNORED_SUFFIXES)
            and fnmatch.fnmatch(name, pattern))


def _listing(folder: Path, pattern: str) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.name in _SUBFOLDERS and p.is_dir() and not p.is_symlink():
            continue
        if wanted(p.name, pattern):
            out.append(p)
    return out


def candidates(conn: FileConnector, base_dir: Path | None) -> list[Path]:
    """Entries the connector covers (the single file, or the folder's matching entries), sorted.

    Links, pipes and folders whose names match are included on purpose: callers refuse them
    out loud (``prepare`` raises :class:`Refused`) rather than skipping them silently.
    """
    loc = location(conn, base_dir)
    st = lstat(loc)
    if st is None:
        return []
    if not stat.S_ISDIR(st.st_mode):
        return [loc]            # a single file; a linked landing folder is refused, never listed
    return _listing(loc, conn.pattern)


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
    """Old enough that nobody is still writing it (the entry's own time: links are not followed)."""
    st = os.lstat(path)
    return ((now if now is not None else time.time()) - st.st_mtime) >= min_age


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open a regular file for reading without following a link; raise Refused for anything else.

    The entry is checked before opening (a device is never opened) and the open descriptor
    after (an entry swapped in between is caught); O_NONBLOCK keeps a pipe from hanging the run.
    """
    st = os.lstat(path)
    kind = entry_kind(st)
    if kind:
        raise Refused(refusal(kind))
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as e:
        if e.errno in _LINK_ERRNOS:
            raise Refused(refusal("a symbolic link")) from None
        raise
    try:
        fst = os.fstat(fd)
        kind = entry_kind(fst)
        if kind:
            raise Refused(refusal(kind))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, fst


def _readable(fd: int, path: Path) -> Path:
    """A name that opens exactly the file behind ``fd`` (Linux: /proc/self/fd/N), so every
    reader (pandas, pyarrow, openpyxl) reads what was checked even if the name is swapped later.
    Elsewhere the original name, re-checked against ``fd`` before and after reading."""
    p = _FD_DIR / str(fd)
    return p if _FD_DIR.is_dir() else path


def _same(path: Path, ident: tuple[int, int] | None) -> bool:
    st = lstat(path)
    return st is not None and ident is not None and (st.st_dev, st.st_ino) == ident


def prepare(conn: FileConnector, path: Path, landing: Path, limits: IngestLimits | None = None) -> FileDelivery:
    """Open, hash and check a file; raise Refused for non-regular entries, FileProblem for
    unreadable files, StillWriting for files still growing. The caller closes the delivery."""
    fd, before = open_regular(path)
    readable = _readable(fd, path)
    d = FileDelivery(path, landing, fd=fd, readable=readable, ident=(before.st_dev, before.st_ino),
                     limits=limits)
    try:
        if d.readable == path and not _same(path, d.ident):
            raise StillWriting(path)
        sc = formats.scan(readable, conn.quotechar)
        d.scan = sc
        after = os.fstat(fd)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or sc.size != after.st_size:
            raise StillWriting(path)
        d.fmt = formats.detect_format(path, conn.format)
        if sc.size == 0:
            raise FileProblem("empty file (no header row)")
        if d.fmt in ("csv", "jsonl"):
            try:
                d.encoding = _text_encoding(conn, d, readable)
                check_text_caps(conn, d)
            except FileProblem as e:
                e.rows = estimate_rows(d)
                raise
    except BaseException:
        d.close()
        raise
    return d


def _text_encoding(conn: FileConnector, d: FileDelivery, readable: Path) -> str:
    """The encoding to read the delivery with. A UTF-16/32 file (byte-order mark), or a CSV that
    starts with Excel's ``sep=;`` line or a report's title lines above its header, is read from
    a streamed UTF-8 copy without those lines, so every line measure and parser sees plain
    UTF-8 CSV (row numbers count from the header); the delivery keeps the original's content
    hash (re-delivery)."""
    assert d.scan is not None
    enc = formats.wide_encoding(readable, conn) or formats.choose_encoding(conn, d.scan)
    hint = formats.sep_hint(readable, enc) if d.fmt == "csv" and not conn.delimiter else None
    titles = formats.csv_title_lines(readable, enc, conn.delimiter) if d.fmt == "csv" and hint is None else 0
    if hint is None and not titles and enc not in ("utf-16", "utf-32"):
        return enc
    fd, name = tempfile.mkstemp(prefix="leadflow-utf8-", suffix=d.path.suffix)
    os.close(fd)
    d.transcoded = Path(name)
    formats.utf8_copy(readable, enc, d.transcoded, skip_lines=1 if hint is not None else titles)
    d.scan = dataclasses.replace(formats.scan(d.transcoded, conn.quotechar), sha256=d.scan.sha256)
    d.readable, d.delimiter = d.transcoded, hint
    if titles:
        d.warnings.append(f"{titles} line(s) above the header skipped (a report's title?)")
    return "utf-8-sig"


def check_text_caps(conn: FileConnector, d: FileDelivery) -> None:
    """Caps a text file must meet before any parser sees it: the header's width (CSV) and the
    longest physical line (``max_row_bytes``), so parser memory stays bounded."""
    lim = d.limits or IngestLimits()
    assert d.scan is not None
    if d.fmt == "csv":
        src = d.readable or d.path
        sep = formats.sniff_delimiter(src, d.encoding, d.delimiter or conn.delimiter)
        formats.csv_header(src, d.encoding, sep, conn.quotechar, lim)
    if d.scan.max_line > lim.max_row_bytes and not _json_document(d):
        raise FileProblem(f"line {d.scan.max_line_no} is {d.scan.max_line:,} bytes, longer than "
                          f"max_row_bytes ({lim.max_row_bytes})")


def _json_document(d: FileDelivery) -> bool:
    """A JSON array, or a wrapping object over several lines: its parser caps each element,
    not each line (a one-line object is JSON Lines or a small document: the line cap holds)."""
    from leadflow.ingest import jsondoc
    if d.fmt != "jsonl" or d.scan is None:
        return False
    form = jsondoc.shape(d.readable or d.path, d.encoding)
    return form == "array" or (form == "document" and d.scan.lines > 1)


def estimate_rows(d: FileDelivery) -> int:
    """How many rows a refused file held, so its batch records rows_in = rows_rejected: non-blank
    lines (less the CSV header) for text, the footer's count for Parquet, else 0 (unknown)."""
    sc = d.scan
    if d.fmt in ("csv", "jsonl") and sc is not None:
        return max(sc.lines - (1 if d.fmt == "csv" else 0), 0)
    if d.fmt == "parquet":
        try:
            import pyarrow.parquet as pq
            return int(pq.ParquetFile(d.readable or d.path).metadata.num_rows)
        except Exception:  # noqa: BLE001 - an unreadable footer: unknown
            return 0
    return 0


class StillWriting(Exception):
    """The file changed while it was read: leave it for the next run."""


def read(conn: FileConnector, d: FileDelivery) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    # CSV measures cell lengths in Arrow itself (cells=False): cheaper than per-column pandas
    return formats.bounded(_read(conn, d), d.limits, d.line_rejects, cells=d.fmt != "csv")


def _read(conn: FileConnector, d: FileDelivery) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    src = d.readable or d.path
    if d.fmt == "csv":
        if d.delimiter:
            conn = conn.model_copy(update={"delimiter": d.delimiter})
        return formats.read_csv(src, conn, d.encoding, d.limits, d.line_rejects, d.warnings, d.scan)
    if d.fmt == "jsonl":
        return formats.read_jsonl(src, conn, d.encoding, d.line_rejects, d.limits)
    if d.fmt == "parquet":
        return formats.read_parquet(src, conn, d.limits)
    if d.fmt == "xlsx":
        return _read_xlsx(src, conn, d.limits)
    raise FileProblem(f"unsupported format {d.fmt!r}")


def _read_xlsx(src: Path, conn: FileConnector,
               limits: IngestLimits | None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    # openpyxl insists on an .xlsx file name or a file object: hand it the open file.
    with open(src, "rb") as f:
        yield from formats.read_xlsx(f, conn, limits)


def _open_folder(folder: Path) -> int:
    """``archive/`` or ``failed/`` opened as a real folder (made when absent), never via a link."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    try:
        return os.open(folder, _DIR_FLAGS)
    except OSError as e:
        if e.errno in _LINK_ERRNOS:
            st = lstat(folder)
            kind = entry_kind(st) if st is not None else "missing"
            raise UnsafeFolder(f"{folder.name}/ is {kind}, not a real folder inside the landing folder; "
                               "nothing was moved there") from None
        raise


def _taken(dfd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _names(name: str) -> Iterator[str]:
    yield name
    stem, suffix = Path(name).stem, Path(name).suffix
    i = 1
    while True:
        yield f"{stem}.{i}{suffix}"
        i += 1


def _links_seen(dfd: int, folder: str, names: list[str]) -> list[str]:
    out = []
    for n in names:
        try:
            if stat.S_ISLNK(os.stat(n, dir_fd=dfd, follow_symlinks=False).st_mode):
                out.append(f"{folder}/{n}")
        except FileNotFoundError:
            pass
    return out


def _link_warning(links: list[str], target: str) -> str | None:
    if not links:
        return None
    return (f"{', '.join(links)}: symbolic link(s) in the landing folder's subfolders, left alone "
            f"and never written through; filed as {target} instead")


def archive(d: FileDelivery) -> tuple[Path, str | None]:
    """Move a landed file into ``archive/`` under a free name; returns (target, warning or None)."""
    if d.fd is not None and d.readable == d.path and not _same(d.path, d.ident):
        raise FileNotFoundError(d.path)        # swapped since it was read: not ours to move
    folder = d.landing / "archive"
    dfd = _open_folder(folder)
    try:
        tried = []
        for name in _names(d.path.name):
            tried.append(name)
            if not _taken(dfd, name):
                break
        os.rename(d.path, name, dst_dir_fd=dfd)
        return folder / name, _link_warning(_links_seen(dfd, "archive", tried[:-1]), f"archive/{name}")
    finally:
        os.close(dfd)


def fail(path: Path, landing: Path, why: str) -> tuple[Path, str | None]:
    """Move a rejected file into ``failed/`` beside ``<name>.why.txt``; returns (target, warning).

    The note's name is claimed first with O_CREAT|O_EXCL|O_NOFOLLOW, so an existing entry of
    that name (a link to some other file) is never opened or overwritten.
    """
    folder = landing / "failed"
    dfd = _open_folder(folder)
    try:
        tried: list[str] = []
        for name in _names(path.name):
            note = name + ".why.txt"
            tried += [name, note]
            if _taken(dfd, name) or _taken(dfd, note):
                continue
            try:
                nfd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                              0o644, dir_fd=dfd)
            except FileExistsError:
                continue
            with os.fdopen(nfd, "w", encoding="utf-8") as f:
                f.write(why.rstrip() + "\n")
            try:
                os.rename(path, name, dst_dir_fd=dfd)
            except BaseException:
                os.unlink(note, dir_fd=dfd)
                raise
            return folder / name, _link_warning(_links_seen(dfd, "failed", tried[:-2]), f"failed/{name}")
        raise AssertionError("unreachable")
    finally:
        os.close(dfd)


def source_files(source: Source, path: Path | None, base_dir: Path | None) -> list[Path]:
    """Files to read for ``read_mapped``: an explicit file/folder, else the connector's location.

    Links and special entries are listed too, so reading them fails out loud (``Refused``)."""
    conn = source.connector
    if path is not None:
        p = Path(path)
        if p.is_dir() and not p.is_symlink():
            pattern = conn.pattern if isinstance(conn, FileConnector) else "*"
            return _listing(p, pattern)
        return [p]
    if not isinstance(conn, FileConnector):
        return []
    return candidates(conn, base_dir)
