"""Take an erased person out of the files leadflow wrote.

- Lead lists (``paths.lists_dir``, CSV / XLSX / HTML): the person's rows are removed (by the
  ``Person id`` column); a list left without rows is deleted.
- Report extracts (CSV under ``paths.reports_dir``): rows with the person's ``person_id`` or one
  of their ``handoff_id`` values are removed.
- Every other page and extract under the reports folder (Data Docs, run summaries, report
  pages): the person's addresses, phone numbers and full names, as stored, are replaced by
  ``[erased]`` where they stand as whole values (``s@example.com`` inside
  ``bobs@example.com`` is left alone).
Returns what changed per file (path -> "rows removed: n" / "deleted" / "values replaced: n").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from leadflow.config import Settings

TEXT_SUFFIXES = (".html", ".htm", ".json", ".csv", ".txt", ".md")
_PERSON_COLS = ("Person id", "person_id")
_HANDOFF_COLS = ("Handoff id", "handoff_id")


def _needles(clear: dict[str, set[str]]) -> re.Pattern[str] | None:
    parts = []
    for e in sorted(clear.get("emails", ()), key=len, reverse=True):
        parts.append(r"(?<![\w.%+-])" + re.escape(e) + r"(?![\w-]|\.\w)")
    for p in sorted(clear.get("phones", ()), key=len, reverse=True):
        parts.append(r"(?<![\w+])" + re.escape(p) + r"(?!\w)")
    for n in sorted(clear.get("names", ()), key=len, reverse=True):
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


def _csv(path: Path, ids: set[str], handoffs: set[str]) -> tuple[int, int]:
    """Rows removed and rows left (rows left = -1 when the file has no person column)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return 0, -1
    if not any(c in df.columns for c in (*_PERSON_COLS, *_HANDOFF_COLS)):
        return 0, -1
    drop = _rows_out(df, ids, handoffs)
    if drop.any():
        df[~drop].to_csv(path, index=False, encoding="utf-8")
    return int(drop.sum()), int((~drop).sum())


def _xlsx(path: Path, ids: set[str]) -> tuple[int, int]:
    from openpyxl import load_workbook
    wb = load_workbook(path)
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
    if removed:
        wb.save(path)
    return removed, left


_TR = re.compile(r"<tr>(.*?)</tr>", re.DOTALL)
_TD = re.compile(r"<t[dh]>(.*?)</t[dh]>", re.DOTALL)


def _html_list(path: Path, ids: set[str]) -> tuple[int, int]:
    """A lead list page (handoff.lists template): drop the person's table rows, fix the count."""
    text = path.read_text(encoding="utf-8")
    rows = _TR.findall(text)
    if not rows:
        return 0, -1
    header = [h.strip() for h in _TD.findall(rows[0])]
    col = next((header.index(c) for c in _PERSON_COLS if c in header), None)
    if col is None:
        return 0, -1
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
    if removed:
        new = re.sub(r"<p>\d+ leads?,", f"<p>{left} lead{'' if left == 1 else 's'},", new, count=1)
        path.write_text(new, encoding="utf-8")
    return removed, left


def _replace(path: Path, pattern: re.Pattern[str]) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return 0
    new, n = pattern.subn("[erased]", text)
    if n:
        path.write_text(new, encoding="utf-8")
    return n


def scrub(settings: Settings, sub: Any) -> dict[str, str]:
    """Rewrite the lists, extracts and pages under the lists and reports folders (module doc)."""
    ids = {str(i) for i in sub.person_ids}
    handoffs = {str(h) for h in sub.handoff_ids}
    pattern = _needles(sub.clear)
    out: dict[str, str] = {}
    roots = []
    for root in (settings.lists_dir, settings.reports_dir):
        if root.is_dir() and not any(root.is_relative_to(r) for r in roots):
            roots = [r for r in roots if not r.is_relative_to(root)] + [root]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            in_lists = path.is_relative_to(settings.lists_dir)
            removed, left = 0, -1
            if ids and path.suffix == ".csv":
                removed, left = _csv(path, ids, handoffs)
            elif ids and path.suffix == ".xlsx":
                removed, left = _xlsx(path, ids)
            elif ids and in_lists and path.suffix == ".html":
                removed, left = _html_list(path, ids)
            if in_lists and left == 0 and removed:
                path.unlink()
                out[str(path)] = "deleted"
                continue
            replaced = _replace(path, pattern) if pattern and path.suffix in TEXT_SUFFIXES else 0
            notes = [f"rows removed: {removed}"] if removed else []
            notes += [f"values replaced: {replaced}"] if replaced else []
            if notes:
                out[str(path)] = ", ".join(notes)
    return out
