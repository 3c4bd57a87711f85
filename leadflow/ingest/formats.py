"""File formats: read CSV, JSON Lines, Parquet and XLSX in bounded chunks of raw strings.

Every reader yields ``(frame, row_numbers)`` where ``frame`` holds the delivered values as
strings (missing as NA) and ``row_numbers`` the 1-based data-row number of each row, so the
mapping step sees one shape whatever the format. Whole-file problems (wrong encoding, empty
file, a broken CSV line) raise :class:`FileProblem` naming the row; per-row problems (a
malformed JSON line) come back as rejects so the other rows still land.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import FileConnector

SUFFIX_FORMAT = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                  ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
_BLOCK = 1 << 20


class FileProblem(Exception):
    """A problem with a whole file; ``row`` is the 1-based data row when known."""

    def __init__(self, why: str, row: int | None = None, field: str | None = None) -> None:
        super().__init__(why)
        self.why, self.row, self.field = why, row, field


@dataclass
class Scan:
    """One pass over the bytes: content hash and what the encoding can be."""

    sha256: str
    size: int
    utf8: bool                    # the whole file decodes as UTF-8
    bad_offset: int | None        # first byte that is not UTF-8
    bad_line: int | None          # 1-based physical line of that byte
    has_nul: bool                 # NUL bytes: binary or UTF-16, not a text file we can read


def scan(path: Path) -> Scan:
    """Hash the file and check UTF-8 validity in one streaming pass (bounded memory)."""
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    size, ok, bad_off, bad_line, nul, lines = 0, True, None, None, False, 0
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
            if not nul and b"\x00" in block:
                nul = True
            if ok:
                try:
                    dec.decode(block)
                except UnicodeDecodeError as e:
                    ok = False
                    bad_off = size + e.start
                    bad_line = lines + block.count(b"\n", 0, e.start) + 1
                lines += block.count(b"\n")
            size += len(block)
    if ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            ok, bad_off, bad_line = False, size - 1, lines + 1
    return Scan(h.hexdigest(), size, ok, bad_off, bad_line, nul)


def detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    fmt = SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise FileProblem(f"cannot tell the format from the suffix {path.suffix!r}; "
                          "set connector.format (csv, jsonl, parquet, xlsx)")
    return fmt


def choose_encoding(conn: FileConnector, sc: Scan) -> str:
    """Declared encoding, else UTF-8 (BOM or not) when valid, else Latin-1."""
    declared = (conn.encoding or "").lower().replace("_", "-")
    if sc.has_nul and not declared.startswith("utf-16") and not declared.startswith("utf-32"):
        raise FileProblem("contains NUL bytes: binary data or UTF-16 text; "
                          "save it as UTF-8 or set connector.encoding", row=None)
    if declared in ("utf-8", "utf8", "utf-8-sig"):
        if not sc.utf8:
            row = max((sc.bad_line or 1) - 1, 1)
            raise FileProblem(f"not valid UTF-8 (byte offset {sc.bad_offset}); "
                              "set connector.encoding (e.g. latin-1) or re-export as UTF-8", row=row)
        return "utf-8-sig"
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            raise FileProblem(f"unknown encoding {conn.encoding!r}") from None
        return declared
    return "utf-8-sig" if sc.utf8 else "latin-1"


def sniff_delimiter(path: Path, encoding: str, declared: str | None) -> str:
    if declared:
        return "\t" if declared in ("\\t", "tab") else declared
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(64 * 1024)
    if not sample.strip():
        raise FileProblem("empty file (no header row)", row=None)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.splitlines()[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def as_text(df: pd.DataFrame) -> pd.DataFrame:
    """All columns as object-dtype text (str or None); nested values as JSON text."""
    out = {}
    for c in df.columns:
        s = df[c]
        if s.dtype == object:
            nested = s.map(lambda v: isinstance(v, (dict, list)))
            if nested.any():
                s = s.where(~nested, s[nested].map(lambda v: json.dumps(v, default=str)))
            notna = s.notna()
            s = s.map(lambda v: v if isinstance(v, str) else str(v)).where(notna, None) if len(s) else s
        else:
            s = s.astype(str).astype(object).where(s.notna(), None)
        out[str(c).strip()] = s.where(s != "", None)
    return pd.DataFrame(out, index=df.index)


def _drop_unnamed(df: pd.DataFrame) -> pd.DataFrame:
    """Trailing delimiters make an unnamed, empty column: drop it (and any empty unnamed one)."""
    drop = [c for c in df.columns if (c == "" or str(c).startswith("Unnamed: ")) and df[c].isna().all()]
    return df.drop(columns=drop) if drop else df


def read_csv(path: Path, conn: FileConnector, encoding: str) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    sep = sniff_delimiter(path, encoding, conn.delimiter)
    try:
        reader = pd.read_csv(path, sep=sep, quotechar=conn.quotechar, encoding=encoding, dtype=object,
                             keep_default_na=False, na_values=[""], chunksize=conn.chunk_rows,
                             engine="c", skip_blank_lines=True)
        start = 1
        with reader:
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                chunk = _drop_unnamed(chunk)
                n = len(chunk)
                yield chunk, np.arange(start, start + n, dtype=np.int64)
                start += n
    except pd.errors.EmptyDataError:
        raise FileProblem("empty file (no header row)") from None
    except pd.errors.ParserError as e:
        msg = str(e).strip().splitlines()[-1]
        row = None
        m = re.search(r"line (\d+)", msg)
        if m:
            row = max(int(m.group(1)) - 1, 1)
        raise FileProblem(f"cannot parse CSV: {msg}", row=row) from None
    except UnicodeDecodeError as e:
        raise FileProblem(f"cannot decode as {encoding}: {e.reason}") from None


def read_jsonl(path: Path, conn: FileConnector, encoding: str,
               rejects: list[tuple[int, str, str]]) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """JSON Lines: a malformed line becomes a reject (row, raw text, why); blank lines are skipped."""
    if path.stat().st_size == 0:
        raise FileProblem("empty file (no records)")
    with open(path, encoding=encoding, newline=None) as f:
        lineno = 0
        while True:
            recs: list[dict[str, Any]] = []
            rows: list[int] = []
            for line in f:
                lineno += 1
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    rejects.append((lineno, line.rstrip("\r\n")[:2000], f"malformed JSON: {e.msg} at column {e.colno}"))
                    continue
                if not isinstance(obj, dict):
                    rejects.append((lineno, line.rstrip("\r\n")[:2000], "a JSON line must be an object"))
                    continue
                recs.append(obj)
                rows.append(lineno)
                if len(recs) >= conn.chunk_rows:
                    break
            if not recs:
                return
            yield as_text(pd.DataFrame.from_records(recs)), np.asarray(rows, dtype=np.int64)


def read_parquet(path: Path, conn: FileConnector) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    import pyarrow.parquet as pq
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise FileProblem(f"not a readable Parquet file: {type(e).__name__}") from None
    start = 1
    for batch in pf.iter_batches(batch_size=conn.chunk_rows):
        df = as_text(batch.to_pandas())
        n = len(df)
        yield df, np.arange(start, start + n, dtype=np.int64)
        start += n


def read_xlsx(path: Path, conn: FileConnector) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises several types for a bad file
        raise FileProblem(f"not a readable XLSX workbook: {type(e).__name__}") from None
    try:
        if conn.sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(conn.sheet, int):
            ws = wb.worksheets[conn.sheet]
        else:
            if conn.sheet not in wb.sheetnames:
                raise FileProblem(f"no sheet named {conn.sheet!r} (has: {', '.join(wb.sheetnames)})")
            ws = wb[conn.sheet]
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            raise FileProblem("empty workbook sheet (no header row)")
        cols = ["" if h is None else str(h).strip() for h in header]
        start, buf = 1, []
        for row in it:
            buf.append(row)
            if len(buf) >= conn.chunk_rows:
                yield _xlsx_frame(buf, cols), np.arange(start, start + len(buf), dtype=np.int64)
                start += len(buf)
                buf = []
        if buf:
            yield _xlsx_frame(buf, cols), np.arange(start, start + len(buf), dtype=np.int64)
    finally:
        wb.close()


def _xlsx_frame(rows: list[tuple[Any, ...]], cols: list[str]) -> pd.DataFrame:
    width = len(cols)
    data = [tuple(r[:width]) + (None,) * (width - len(r)) for r in rows]
    names = [c or f"Unnamed: {i}" for i, c in enumerate(cols)]
    df = pd.DataFrame.from_records(data, columns=names)
    for c in df.columns:   # whole-number floats from Excel read back as integers
        if df[c].dtype.kind == "f" and df[c].dropna().mod(1).eq(0).all():
            df[c] = df[c].astype("Int64")
    return _drop_unnamed(as_text(df))
