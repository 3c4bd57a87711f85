"""Publishing a folder of files as a whole: readers and concurrent runs see the previous complete
version or the new complete version, never a partial folder or a half-written file.

The files are written into a temporary folder next to the target (same filesystem, so renames
never copy), flushed with fsync, then swapped into place in one step: Linux
``renameat2(RENAME_EXCHANGE)`` exchanges the two folders atomically; where the filesystem lacks
it, the old folder is renamed aside and the new one renamed in (if a kill lands between those two
renames, the next publish restores the aside version before doing anything else). Publishers of
one folder hold an exclusive lock on ``.<name>.lock`` beside it, so a concurrent run never deletes
a folder another run is still writing, and any temporary folder found under the lock belongs to a
dead run and is removed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock available
    fcntl = None  # type: ignore[assignment]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_file(path: Path, data: bytes) -> None:
    """Write one new file and fsync it (the step a full disk interrupts)."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    """Make renames and new entries in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@cache
def _renameat2() -> object | None:
    name = ctypes.util.find_library("c")
    lib = ctypes.CDLL(name, use_errno=True) if name else None
    return getattr(lib, "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing folders atomically; False where the OS or filesystem cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:  # type: ignore[operator]
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into_place(new: Path, target: Path) -> Path | None:
    """Put folder ``new`` at ``target``; returns the folder now holding the old version, if any."""
    if not target.exists():
        os.rename(new, target)
        return None
    if _exchange(new, target):
        return new
    aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise
    return aside


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Exclusive per-folder lock across processes and threads (flock on a lock file)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(target.parent / f".{target.name}.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _recover(target: Path) -> None:
    """Under the lock: restore a version left aside by a killed swap, drop dead runs' folders."""
    prefixes = (f".{target.name}.tmp-", f".{target.name}.old-")
    stale = sorted((p for p in target.parent.iterdir() if p.name.startswith(prefixes) and p.is_dir()),
                   key=lambda p: p.stat().st_mtime)
    aside = [p for p in stale if p.name.startswith(prefixes[1])]
    if aside and not target.exists():
        os.rename(aside[-1], target)
    for p in stale:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)


locked, recover = _locked, _recover     # for store.shared's partial publish into the same folder


def publish_dir(target: Path, files: dict[str, bytes]) -> list[Path]:
    """Replace folder ``target`` by one holding exactly ``files`` (name → content), atomically.

    On any error (a full disk, a permission problem) the temporary folder is removed and the
    previous version stays in place; the OSError propagates for the caller to report.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        _recover(target)
        new = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
        new.mkdir()
        try:
            for name, data in files.items():
                write_file(new / name, data)
            _fsync_dir(new)
            old = swap_into_place(new, target)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return [target / name for name in files]
