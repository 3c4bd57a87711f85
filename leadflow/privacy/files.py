"""Take an erased person out of the files leadflow wrote.

- Lead lists (``paths.lists_dir``, CSV / XLSX / HTML): the person's rows are removed (by the
  ``Person id`` column); a list left without rows is deleted. Each day's folder is rewritten in
  memory and published whole through ``store.shared.publish_dir`` (the delivery's atomic swap
  and lock; on object storage each file is replaced whole).
- Report extracts (CSV under ``paths.reports_dir``): rows with the person's ``person_id`` or one
  of their ``handoff_id`` values are removed.
- Every other page and extract under the reports folder (Data Docs, run summaries, report
  pages): the person's addresses, phone numbers and full names, as stored, are replaced by
  ``[erased]`` where they stand as whole values (``s@example.com`` inside
  ``bobs@example.com`` is left alone). Each file is replaced whole (``store.shared.put``).
Returns what changed per file (path -> "rows removed: n" / "deleted" / "values replaced: n").
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd

from leadflow.config import Settings
from leadflow.store import shared

TEXT_SUFFIXES = (".html", ".htm", ".json", ".csv", ".txt", ".md")
_PERSON_COLS = ("Person id", "person_id")
_HANDOFF_COLS = ("Handoff id", "handoff_id")


def _needles(clear: dict[str, set[str]]) -> re.Pattern[str] | None:
    parts = []
    for e in sorted(clear.get("emails", ()), key=len, reverse=True):
        parts.append(r"(?<![\w.%+-])" + re.escape(e) + r"(?![\w-]|\.\w)")
    # too short to be a phone or a full name: replacing it would corrupt figures and words
    for p in sorted(clear.get("phones", ()), key=len, reverse=True):
        if len(re.sub(r"\D", "", p)) >= 7:
            parts.append(r"(?<![\w+])" + re.escape(p) + r"(?!\w)")
    for n in sorted(clear.get("names", ()), key=len, reverse=True):
        if len(n.split()) >= 2 and len(n) >= 5:
            parts.append(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in n.split()) + r"(?!\w)")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _rows_out(df: pd.DataFrame, ids: set[str], handoffs: set[str]) -> pd.Series:
    drop = pd.Series(False, index=df.index)
    for c in _PERSON_COLS:
        if c in df.columns:
            drop |= df[c].astype(str).str.strip().isin(ids)
    for c in _HANDOFF_COLS:
        if c in df.columns:
            drop |= df[c].astype(str).str.strip().isin(handoffs)
    return drop


def _csv(data: bytes, ids: set[str], handoffs: set[str]) -> tuple[bytes, int, int]:
    """(new bytes, rows removed, rows left); rows left = -1 when there is no person column."""
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return data, 0, -1
    if not any(c in df.columns for c in (*_PERSON_COLS, *_HANDOFF_COLS)):
        return data, 0, -1
    drop = _rows_out(df, ids, handoffs)
    if not drop.any():
        return data, 0, int(len(df))
    return df[~drop].to_csv(index=False).encode("utf-8"), int(drop.sum()), int((~drop).sum())


def _xlsx(data: bytes, ids: set[str]) -> tuple[bytes, int, int]:
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(data))
    removed = left = 0
    for ws in wb.worksheets:
        header = [str(c.value) if c.value is not None else "" for c in ws[1]] if ws.max_row else []
        col = next((header.index(c) for c in _PERSON_COLS if c in header), None)
        if col is None:
            continue
        gone = [r for r in range(2, ws.max_row + 1) if str(ws.cell(r, col + 1).value).strip() in ids]
        for r in reversed(gone):
            ws.delete_rows(r)
        removed += len(gone)
        left += ws.max_row - 1
    if not removed:
        return data, 0, left
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), removed, left


_TR = re.compile(r"<tr>(.*?)</tr>", re.DOTALL)
_TD = re.compile(r"<t[dh]>(.*?)</t[dh]>", re.DOTALL)


_CARD = re.compile(r'<article class="card" id="h(\d+)">.*?</article>\s*', re.DOTALL)


def _html_cards(text: str, handoffs: set[str]) -> tuple[bytes, int, int] | None:
    """A lead brief of cards (one ``<article id="h<handoff id>">`` per lead): drop the person's
    cards and fix the count; None when the page has no cards."""
    found = _CARD.findall(text)
    if not found:
        return None
    removed = sum(h in handoffs for h in found)
    left = len(found) - removed
    if not removed:
        return text.encode("utf-8"), 0, left
    new = _CARD.sub(lambda m: "" if m.group(1) in handoffs else m.group(0), text)
    new = re.sub(r'<p class="lead">\d+ leads?,', f'<p class="lead">{left} lead{"" if left == 1 else "s"},',
                 new, count=1)
    return new.encode("utf-8"), removed, left


def _html_list(data: bytes, ids: set[str], handoffs: Collection[str] = ()) -> tuple[bytes, int, int]:
    """A lead list page (handoff.lists template): drop the person's cards (or, in lists written
    before the brief became cards, table rows) and fix the count."""
    text = data.decode("utf-8", errors="replace")
    carded = _html_cards(text, {str(h) for h in handoffs})
    if carded is not None:
        return carded if carded[1] else (data, 0, carded[2])
    rows = _TR.findall(text)
    if not rows:
        return data, 0, -1
    header = [h.strip() for h in _TD.findall(rows[0])]
    col = next((header.index(c) for c in _PERSON_COLS if c in header), None)
    if col is None:
        return data, 0, -1
    removed = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal removed
        cells = _TD.findall(m.group(1))
        if len(cells) > col and cells[col].strip() in ids and "<th>" not in m.group(1):
            removed += 1
            return ""
        return m.group(0)

    new = _TR.sub(repl, text)
    left = len(rows) - 1 - removed
    if not removed:
        return data, 0, left
    new = re.sub(r"<p>\d+ leads?,", f"<p>{left} lead{'' if left == 1 else 's'},", new, count=1)
    return new.encode("utf-8"), removed, left


def _replace(data: bytes, pattern: re.Pattern[str] | None) -> tuple[bytes, int]:
    if pattern is None:
        return data, 0
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, 0
    new, n = pattern.subn("[erased]", text)
    return (new.encode("utf-8"), n) if n else (data, 0)


def _rewrite(path: Path, data: bytes, ids: set[str], handoffs: set[str], pattern: re.Pattern[str] | None,
             in_lists: bool) -> tuple[bytes | None, str | None]:
    """New content of one file (None: delete it) and what changed (None: nothing)."""
    removed, left = 0, -1
    if ids and path.suffix == ".csv":
        data, removed, left = _csv(data, ids, handoffs)
    elif ids and path.suffix == ".xlsx":
        data, removed, left = _xlsx(data, ids)
    elif ids and in_lists and path.suffix == ".html":
        data, removed, left = _html_list(data, ids, handoffs)
    if in_lists and removed and left == 0:
        return None, "deleted"
    replaced = 0
    if path.suffix in TEXT_SUFFIXES:
        data, replaced = _replace(data, pattern)
    notes = ([f"rows removed: {removed}"] if removed else []) + ([f"values replaced: {replaced}"] if replaced else [])
    return data, ", ".join(notes) or None


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _scrub_lists(lists_dir: Path, ids: set[str], handoffs: set[str], pattern: re.Pattern[str] | None,
                 out: dict[str, str]) -> None:
    """Each day's list folder is rewritten in memory and published whole (the same atomic swap and
    lock the delivery uses), so a rep never opens a half-rewritten list."""
    for day in sorted(p for p in lists_dir.iterdir() if p.is_dir() and _visible(p)):
        current = {p.name: p.read_bytes() for p in sorted(day.iterdir()) if p.is_file() and _visible(p)}
        new: dict[str, bytes] = {}
        notes: dict[str, str] = {}
        for name, data in current.items():
            content, note = _rewrite(day / name, data, ids, handoffs, pattern, in_lists=True)
            if content is not None:
                new[name] = content
            if note:
                notes[str(day / name)] = note
        if notes:
            shared.publish_dir(day, new)
            out.update(notes)


def scrub(settings: Settings, sub: Any) -> dict[str, str]:
    """Rewrite the lists, extracts and pages under the lists and reports folders (module doc)."""
    ids = {str(i) for i in sub.person_ids}
    handoffs = {str(h) for h in sub.handoff_ids}
    pattern = _needles(sub.clear)
    out: dict[str, str] = {}
    lists_dir = settings.lists_dir
    if lists_dir.is_dir():
        _scrub_lists(lists_dir, ids, handoffs, pattern, out)
    reports = settings.reports_dir
    if reports.is_dir():
        for path in sorted(p for p in reports.rglob("*") if p.is_file()):
            inside_lists = str(path).startswith(str(lists_dir).rstrip("/") + "/")
            if inside_lists or any(part.startswith(".") for part in path.parts[len(reports.parts):]):
                continue
            if path.suffix not in (*TEXT_SUFFIXES, ".xlsx"):
                continue
            data = path.read_bytes()
            content, note = _rewrite(path, data, ids, handoffs, pattern, in_lists=False)
            if note and content is not None:
                shared.put(path, content)             # whole: a reader sees old or new
                out[str(path)] = note
    return out
