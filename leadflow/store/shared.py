"""Files that more than one task reads, on local disk or on shared storage (fsspec).

Locations come from ``Settings.shared`` / ``Settings.storage_root``: a plain ``Path`` when
storage is local (the config's folder, or a ``file://`` URL of a mount every worker has), a
``UPath`` on the fsspec filesystem otherwise (``s3://``, ``gs://``, ``memory://`` in tests).
Every writer goes through here, so no task hands another a file through a worker's own disk.

Local: one file is written to a temporary name beside it, fsynced and renamed over the old one;
a folder is published with ``files.publish_dir`` (atomic swap). Object stores have no rename:
an object is replaced whole by one PUT (readers see the old or the new object, never a part),
and a folder is published by writing every object of the new version, then deleting the
objects the new version no longer has, so for that moment a reader may see a new list beside
an old one that is about to go, but never a half-written file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.config import is_local, shared_path
from leadflow.store import files


def location(text: str, options: dict[str, Any] | None = None) -> Path:
    """A stored location's text (``str`` of a path or URL, as kept in the warehouse) as a path."""
    if "://" in text:
        return shared_path(text, options or {})
    return Path(text)


def put(p: Path, data: bytes) -> Path:
    """Write one whole file (replacing any earlier version); returns its location."""
    if not is_local(p):
        p.parent.mkdir(parents=True, exist_ok=True)       # a no-op on object stores
        p.write_bytes(data)
        return p
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        files.write_file(tmp, data)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def get(p: Path) -> bytes:
    return p.read_bytes()


def exists(p: Path) -> bool:
    return p.exists()


def put_tree(target: Path, local: Path) -> list[Path]:
    """Copy every file under local folder ``local`` to ``target`` (same relative names), each
    file whole; files already at ``target`` and not in ``local`` stay."""
    return [put(target / str(f.relative_to(local)), f.read_bytes())
            for f in sorted(local.rglob("*")) if f.is_file()]


def publish_dir(target: Path, blobs: dict[str, bytes]) -> list[Path]:
    """Replace folder ``target`` by one holding exactly ``blobs`` (name → content)."""
    if is_local(target):
        return files.publish_dir(target, blobs)
    out = [put(target / name, data) for name, data in blobs.items()]
    fs: Any = target.fs                                    # type: ignore[attr-defined]
    root = str(target.path).rstrip("/")                    # type: ignore[attr-defined]
    keep = {f"{root}/{name}" for name in blobs}
    stale = [f for f in (fs.find(root) if fs.exists(root) else []) if f.rstrip("/") not in keep]
    if stale:
        fs.rm(stale)
    return out


def publish_some(target: Path, blobs: dict[str, bytes],
                 mine: Callable[[list[str]], Any]) -> list[Path]:
    """In folder ``target``, replace the files ``mine`` selects (a boolean per name: the names
    of one partition) by ``blobs``, each file whole; the other partitions' files stay. Locally
    under the folder's publish lock, so a whole-folder publish never loses a file written here."""
    if not is_local(target):
        out = [put(target / n, b) for n, b in blobs.items()]
        _remove_stale(target, [e.name for e in entries(target)], blobs, mine, lambda n: (target / n).unlink())
        return out
    target.mkdir(parents=True, exist_ok=True)
    with files.locked(target):
        files.recover(target)
        out = [put(target / n, b) for n, b in blobs.items()]
        names = [p.name for p in target.iterdir() if p.is_file() and not p.name.startswith(".")]
        _remove_stale(target, names, blobs, mine, lambda n: (target / n).unlink(missing_ok=True))
    return out


def _remove_stale(target: Path, names: list[str], blobs: dict[str, bytes],
                  mine: Callable[[list[str]], Any], remove: Callable[[str], None]) -> None:
    stale = [n for n in names if n not in blobs]
    for n, drop in zip(stale, mine(stale) if stale else []):
        if drop:
            remove(n)


@dataclass(frozen=True)
class Entry:
    """One object directly in a folder of the shared storage."""
    name: str
    size: int
    mtime: float          # seconds since the epoch (0 when the store gives none)
    version: str          # ETag / generation / mtime: changes whenever the object is replaced


def _mtime(info: dict[str, Any]) -> float:
    for k in ("mtime", "LastModified", "updated", "last_modified", "created"):
        v = info.get(k)
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, str) and v:
            try:
                return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return 0.0


def _entry(info: dict[str, Any]) -> Entry:
    version = str(info.get("ETag") or info.get("etag") or info.get("generation") or _mtime(info))
    return Entry(str(info["name"]).rstrip("/").rsplit("/", 1)[-1], int(info.get("size") or 0),
                 _mtime(info), version)


def entries(folder: Path) -> list[Entry]:
    """Objects directly in ``folder`` of an fsspec store (sub-folders are not entries), by name."""
    fs: Any = folder.fs                                    # type: ignore[attr-defined]
    root = str(folder.path).rstrip("/")                    # type: ignore[attr-defined]
    if not fs.exists(root):
        return []
    return sorted((_entry(i) for i in fs.ls(root, detail=True) if i.get("type") == "file"),
                  key=lambda e: e.name)


def fetch(p: Path, local: Path, seen: Entry) -> bool:
    """Copy object ``p`` to the local file ``local``; False when it was replaced since it was
    listed as ``seen`` or while it was copied (then it is left for the next run)."""
    fs: Any = p.fs                                         # type: ignore[attr-defined]
    fs.get_file(str(p.path), str(local))                   # type: ignore[attr-defined]
    now = _entry(fs.info(str(p.path)))                     # type: ignore[attr-defined]
    return (now.size, now.version) == (seen.size, seen.version) and local.stat().st_size == seen.size


def move(p: Path, folder: Path) -> Path:
    """Move object ``p`` into ``folder`` under a free name (``x.csv``, ``x.1.csv``, ...)."""
    fs: Any = p.fs                                         # type: ignore[attr-defined]
    stem, suffix = p.stem, p.suffix
    target = folder / p.name
    i = 0
    while fs.exists(str(target.path)):                     # type: ignore[attr-defined]
        i += 1
        target = folder / f"{stem}.{i}{suffix}"
    fs.mv(str(p.path), str(target.path))                   # type: ignore[attr-defined]
    return target
