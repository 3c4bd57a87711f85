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
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadflow.config import FileConnector, IngestLimits

SUFFIX_FORMAT = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                  ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
_BLOCK = 1 << 20


class FileProblem(Exception):
    """A problem with a whole file; ``row`` is the 1-based data row when known."""

    def __init__(self, why: str, row: int | None = None, field: str | None = None) -> None:
        super().__init__(why)
        self.why, self.row, self.field = why, row, field
        self.rows: int | None = None     # rows the refused file held, when known


@dataclass
class Scan:
    """One pass over the bytes: content hash and what the encoding can be."""

    sha256: str
    size: int
    utf8: bool                    # the whole file decodes as UTF-8
    bad_offset: int | None        # first byte that is not UTF-8
    bad_line: int | None          # 1-based physical line of that byte
    has_nul: bool                 # NUL bytes: binary or UTF-16, not a text file we can read
    lines: int = 0                # physical lines holding anything (counts a failed delivery's rows)
    max_line: int = 0             # longest physical line in bytes (the max_row_bytes cap)
    max_line_no: int = 0          # 1-based physical line of the longest one
    ends_newline: bool = True     # False: the last line has no line end (file cut mid-row?)
    quotes: int = 0               # quote characters: odd means the file ends inside a quoted value


def scan(path: Path, quotechar: str = '"') -> Scan:
    """Hash the file, check UTF-8 validity and measure its lines in one streaming pass
    (bounded memory; the line measures are vectorised per block)."""
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    size, ok, bad_off, bad_line, nul, lines = 0, True, None, None, False, 0
    q = quotechar.encode("utf-8", "replace")[:1] or b'"'
    nonblank, max_len, max_no, run, quotes, last = 0, 0, 0, 0, 0, b""
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
            quotes += block.count(q)
            nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            if len(nl):
                lens = np.diff(nl, prepend=-1) - 1
                lens[0] += run
                nonblank += int(np.count_nonzero(lens > 1) + np.count_nonzero(lens == 1) -
                                _cr_only(block, nl, lens))
                i = int(lens.argmax())
                if lens[i] > max_len:
                    max_len, max_no = int(lens[i]), lines + i + 1
                run = len(block) - int(nl[-1]) - 1
            else:
                run += len(block)
            lines += len(nl)
            size += len(block)
            last = block[-1:]
    if run:
        nonblank += 1
        if run > max_len:
            max_len, max_no = run, lines + 1
    if ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            ok, bad_off, bad_line = False, size - 1, lines + 1
    return Scan(h.hexdigest(), size, ok, bad_off, bad_line, nul, nonblank, max_len, max_no,
                last in (b"\n", b"\r", b""), quotes)


def _cr_only(block: bytes, nl: np.ndarray, lens: np.ndarray) -> int:
    """Lines of length 1 that hold only a CR (blank lines of a CRLF file)."""
    ones = nl[(lens == 1) & (nl > 0)]
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8)[ones - 1] == 13)) if len(ones) else 0


def detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    fmt = SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise FileProblem(f"cannot tell the format from the suffix {path.suffix!r}; "
                          "set connector.format (csv, jsonl, parquet, xlsx)")
    return fmt


#: byte-order marks of the wide Unicode encodings (UTF-32 first: its LE mark starts like UTF-16's)
WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
             (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def wide_encoding(path: Path, conn: FileConnector) -> str | None:
    """The wide encoding ('utf-16' / 'utf-32') a text file's byte-order mark names, when no other
    encoding is declared (Excel's "Unicode Text" export is UTF-16 with a BOM), else None."""
    declared = (conn.encoding or "").lower().replace("_", "-")
    if declared and not declared.startswith(("utf-16", "utf-32")):
        return None
    with open(path, "rb") as f:
        head = f.read(4)
    return next((enc for bom, enc in WIDE_BOMS if head.startswith(bom)), None)


#: Excel's delimiter hint: a first line 'sep=;' (before the header) naming the delimiter
_SEP_HINT = re.compile(r"\ufeff?sep=([^\r\n])\r?\n")


def sep_hint(path: Path, encoding: str) -> str | None:
    """The delimiter a first line ``sep=X`` names, or None."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        m = _SEP_HINT.match(f.read(16))
    return m.group(1) if m else None


#: how far down a header may sit below a report's title lines
TITLE_LINES_MAX = 20


def _filled(cells: list[Any]) -> int:
    return sum(1 for c in cells if c is not None and str(c).strip())


def title_rows(rows: list[list[Any]]) -> int:
    """How many leading rows are a report's title, run date or blank lines above the header:
    rows with at most one filled cell, followed (within ``TITLE_LINES_MAX``) by a row with two
    or more. A one-column file has no such row, so nothing is skipped."""
    k = 0
    while k < len(rows) and k < TITLE_LINES_MAX and _filled(rows[k]) <= 1:
        k += 1
    return k if 0 < k < len(rows) and _filled(rows[k]) >= 2 else 0


def csv_title_lines(path: Path, encoding: str, declared: str | None) -> int:
    """``title_rows`` of a CSV's first lines, split by whichever delimiter fills the most cells."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        lines = [f.readline(1 << 16) for _ in range(TITLE_LINES_MAX + 1)]      # titles are short
    lines = [ln for ln in lines if ln]
    seps = [("\t" if declared in ("\\t", "tab") else declared)] if declared else [",", ";", "\t", "|"]
    best = max(seps, key=lambda d: max((len(ln.split(d)) for ln in lines), default=0))
    try:
        return title_rows([next(csv.reader([ln.rstrip("\r\n")], delimiter=best), []) for ln in lines])
    except csv.Error:           # a field beyond the csv module's limit: not a title; the reader says why
        return 0


def utf8_copy(path: Path, encoding: str, out: Path, skip_lines: int = 0) -> None:
    """Stream ``path`` from ``encoding`` into ``out`` as UTF-8 (line ends untouched), without its
    first ``skip_lines`` lines (a ``sep=`` hint, a report's title)."""
    try:
        with open(path, encoding=encoding, newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            for _ in range(skip_lines):
                src.readline()
            while block := src.read(_BLOCK):
                dst.write(block)
    except UnicodeError as e:
        raise FileProblem(f"cannot be decoded as {encoding}: {e}") from None


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


_to_str = np.frompyfunc(lambda v: v if isinstance(v, str) else str(v), 1, 1)


def _json_default(v: Any) -> Any:
    """JSON for what Arrow hands pandas inside nested values: arrays as lists, else text."""
    return v.tolist() if isinstance(v, np.ndarray) else str(v)


def as_text(df: pd.DataFrame) -> pd.DataFrame:
    """All columns as object-dtype text (str or None); nested values (lists, arrays, structs)
    as JSON text. Columns are named as the CSV reader names them (``_dedupe``): a repeated name
    becomes 'x.1', so mapping can refuse an ambiguous delivery instead of failing on it."""
    out = {}
    for i, name in enumerate(_dedupe([str(c) for c in df.columns])):
        s = df.iloc[:, i]
        if s.dtype == object:
            nested = s.map(lambda v: isinstance(v, (dict, list, np.ndarray)))
            if nested.any():
                s = s.where(~nested, s[nested].map(lambda v: json.dumps(v, default=_json_default)))
            notna = s.notna()
            if len(s):   # frompyfunc keeps object dtype (a str inference would refuse a lone surrogate)
                vals = _to_str(s.to_numpy(dtype=object))
                s = pd.Series(vals, index=s.index, dtype=object).where(notna, None)
        else:
            s = s.astype(str).astype(object).where(s.notna(), None)
        out[name] = s.where(s != "", None)
    return pd.DataFrame(out, index=df.index)


def _drop_unnamed(df: pd.DataFrame) -> pd.DataFrame:
    """Trailing delimiters make an unnamed, empty column: drop it (and any empty unnamed one)."""
    drop = [c for c in df.columns if (c == "" or str(c).startswith("Unnamed: ")) and df[c].isna().all()]
    return df.drop(columns=drop) if drop else df


def _limits(limits: IngestLimits | None) -> IngestLimits:
    return limits if limits is not None else IngestLimits()


def _dedupe(names: list[str]) -> list[str]:
    """Header names as pandas names them: stripped, blanks 'Unnamed: i', repeats 'x.1', 'x.2'
    (skipping a name the header already holds)."""
    out: list[str] = []
    used: set[str] = set()
    repeats: dict[str, int] = {}
    for i, n in enumerate(names):
        n = n.strip() or f"Unnamed: {i}"
        name = n
        while name in used:
            repeats[n] = repeats.get(n, 0) + 1
            name = f"{n}.{repeats[n]}"
        used.add(name)
        out.append(name)
    return out


def csv_header(path: Path, encoding: str, sep: str, quotechar: str, limits: IngestLimits) -> list[str]:
    """The header's names, read from at most ``max_row_bytes`` characters so that a hostile
    header (a million columns) is refused before any parser allocates for it."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        head = f.read(limits.max_row_bytes + 1)
    head = head.removeprefix("\ufeff")
    # the first record: up to the first line end outside quotes (a quote count per line is enough)
    pos, inside = 0, False
    while True:
        nl = head.find("\n", pos)
        inside ^= head.count(quotechar, pos, len(head) if nl < 0 else nl) % 2 == 1
        if nl < 0 or not inside:
            break
        pos = nl + 1
    complete = nl >= 0
    first = head if nl < 0 else head[:nl]
    try:
        fields = next(csv.reader([first.rstrip("\r")], delimiter=sep, quotechar=quotechar), [])
    except csv.Error as e:          # e.g. a header field beyond the csv module's field limit
        raise FileProblem(f"cannot parse the CSV header: {e}", row=1) from None
    n = len(fields)
    if n > limits.max_columns:
        more = "" if complete else "at least "
        raise FileProblem(f"header has {more}{n:,} columns, more than max_columns ({limits.max_columns})",
                          row=1)
    if not complete and len(head) > limits.max_row_bytes:
        raise FileProblem(f"header longer than max_row_bytes ({limits.max_row_bytes})", row=1)
    if not any(f.strip() for f in fields):
        raise FileProblem("empty file (no header row)")
    return _dedupe(fields)


@dataclass
class RowReject:
    """A row set aside by a reader: its data-row number, what it held, and why."""

    row: int
    record: dict[str, Any] | str
    why: str


def _split_line(text: str, sep: str, quotechar: str, names: list[str]) -> dict[str, Any]:
    """A bad CSV row's text as a record: fields by header name, surplus under '_extra'."""
    try:
        vals = next(csv.reader([text], delimiter=sep, quotechar=quotechar), [])
    except csv.Error:
        return {"_line": text}
    rec: dict[str, Any] = {n: (v if v != "" else None) for n, v in zip(names, vals)}
    if len(vals) > len(names):
        rec["_extra"] = vals[len(names):]
    return rec


def read_csv(path: Path, conn: FileConnector, encoding: str, limits: IngestLimits | None = None,
             rejects: list | None = None, warnings: list[str] | None = None,
             sc: Scan | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """CSV through pyarrow's streaming reader, every value as text.

    pyarrow reports each row whose field count differs from the header's (too few: a field
    cut off; too many: a stray delimiter), so such a row is quarantined alone with
    "row has N of M fields" and every other row lands. Rows are numbered as data rows
    (1 = the row after the header; blank lines not counted) whether they land or not.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    lim = _limits(limits)
    rejects = rejects if rejects is not None else []
    sep = sniff_delimiter(path, encoding, conn.delimiter)
    names = csv_header(path, encoding, sep, conn.quotechar, lim)
    width = len(names)
    bad_rows: list[int] = []           # data-row numbers of rows set aside, in file order
    taken: list[int] = []              # ... and of whitespace-only lines: numbers no landed row gets

    def on_bad(row: Any) -> str:
        text = row.text or ""
        n = int(row.number) - 1 if row.number and row.number > 0 else len(taken) + 1
        taken.append(n)
        if not text.strip():
            return "skip"              # a whitespace-only line is a blank line, not a row
        bad_rows.append(n)
        why = f"row has {row.actual_columns} of {row.expected_columns} fields"
        rejects.append(RowReject(n, _split_line(text[: lim.max_row_bytes], sep, conn.quotechar, names), why))
        return "skip"

    pyenc = "utf8" if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8") else encoding
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=[f"c{i}" for i in range(width)],
                                           skip_rows=1, encoding=pyenc,
                                           block_size=max(lim.max_row_bytes + 1, 1 << 16)),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=conn.quotechar or False,
                                              newlines_in_values=True, invalid_row_handler=on_bad),
            convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(width)},
                                                 strings_can_be_null=True, null_values=[""],
                                                 quoted_strings_can_be_null=True))
    except pa.ArrowInvalid as e:
        raise _csv_problem(e, lim) from None
    except UnicodeDecodeError as e:
        raise FileProblem(f"cannot decode as {encoding}: {e.reason}") from None
    def step() -> Any:
        try:
            return next(batches, None)
        except pa.ArrowInvalid as e:
            raise _csv_problem(e, lim) from None
        except UnicodeDecodeError as e:
            raise FileProblem(f"cannot decode as {encoding}: {e.reason}") from None

    good = 0                           # rows handed on so far
    pending: list[Any] = []
    batches = iter(reader)
    cur = step()
    while cur is not None:
        nxt = step()                   # one batch ahead: the last chunk is known as the last
        if cur.num_rows:
            pending.append(cur)
        last = nxt is None
        if pending and (last or sum(b.num_rows for b in pending) >= conn.chunk_rows):
            table = _excel_text(pa.Table.from_batches(pending))
            pending = []
            n = table.num_rows
            again = _header_again(table, names)
            long = _long_in_arrow(table, lim.max_cell_bytes)
            frame = pd.DataFrame({name: _objects(table.column(i)) for i, name in enumerate(names)},
                                 dtype=object)
            del table
            numbers = _row_numbers(good, n, taken)
            good += n
            if again is not None:
                frame, numbers = _set_aside(frame, numbers, again, rejects, HEADER_AGAIN)
                long = long[~again] if long is not None else None
            if long is not None:
                frame, numbers = _long_cells(frame, numbers, lim.max_cell_bytes, rejects, long)
            if last:
                frame, numbers = _flag_last_row(frame, numbers, bad_rows, sc, rejects, warnings)
            yield _drop_unnamed(frame), numbers
        cur = nxt
    if sc is not None and not sc.ends_newline and bad_rows and max(bad_rows) >= good + len(taken):
        for r in rejects:              # the last record was set aside: say the file may be cut
            if isinstance(r, RowReject) and r.row == max(bad_rows) and "no line end" not in r.why:
                r.why += "; the last line has no line end (file cut mid-row?)"


def _objects(col: Any) -> np.ndarray:
    """An Arrow string column as an object array of str/None, one Python string per distinct
    value (repeated values such as yes/no or a source name share it, as pandas' C parser does)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    enc = pc.dictionary_encode(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    uniq = np.append(enc.dictionary.to_numpy(zero_copy_only=False).astype(object), np.array([None], dtype=object))
    idx = pc.fill_null(enc.indices, len(uniq) - 1).to_numpy(zero_copy_only=False)
    return uniq[idx]


HEADER_AGAIN = "the header line again (files joined into one?)"
# Exports meant for Excel wrap a value as ="0123" so the spreadsheet keeps it as text
_EXCEL_TEXT = r'^="([^"]*)"$'


def _excel_text(table: Any) -> Any:
    """Values written as ="text" (Excel's keep-as-text form) read as the text; ="" is missing.
    Only the exact form: a value's own formula (=cmd|...) stays as delivered."""
    import pyarrow as pa
    import pyarrow.compute as pc
    cols = []
    for col in table.columns:
        if pc.any(pc.starts_with(col, '="')).as_py():
            hit = pc.fill_null(pc.match_substring_regex(col, _EXCEL_TEXT), False)
            inner = pc.replace_substring_regex(col, _EXCEL_TEXT, r"\1")
            inner = pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), inner)
            col = pc.if_else(hit, inner, col)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _header_again(table: Any, names: list[str]) -> np.ndarray | None:
    """Rows repeating the header (most cells equal to their column's name; the first may carry
    the joined file's byte-order mark), or None: two exports joined into one file."""
    import pyarrow.compute as pc
    if len(names) < 2:
        return None
    hits = np.zeros(table.num_rows, dtype=np.int64)
    for i, (col, name) in enumerate(zip(table.columns, names)):
        eq = pc.equal(col, name)
        if i == 0:
            eq = pc.or_(eq, pc.equal(col, "\ufeff" + name))
        hits += pc.fill_null(eq, False).to_numpy(zero_copy_only=False)
    mask = hits >= max(2, len(names) // 2 + 1)
    return mask if mask.any() else None


def _set_aside(frame: pd.DataFrame, rows: np.ndarray, mask: np.ndarray, rejects: list,
               why: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows under ``mask`` set aside with one reason each."""
    for i in np.flatnonzero(mask).tolist():
        rec = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
               for k, v in frame.iloc[i].items()}
        rejects.append(RowReject(int(rows[i]), rec, why))
    return frame[~mask], rows[~mask]


def _long_in_arrow(table: Any, cap: int) -> np.ndarray | None:
    """Rows holding a value longer than ``cap`` characters, measured in Arrow (C++), or None."""
    import pyarrow.compute as pc
    mask = None
    for col in table.columns:
        lens = pc.utf8_length(col)
        top = pc.max(lens).as_py()
        if top is not None and top > cap:
            hit = pc.fill_null(pc.greater(lens, cap), False).to_numpy(zero_copy_only=False)
            mask = hit if mask is None else mask | hit
    return mask


def _row_numbers(before: int, n: int, bad_rows: list[int]) -> np.ndarray:
    """Data-row numbers of good rows ``before+1 .. before+n`` given the rows set aside so far.

    The k-th good row is row k plus the number of set-aside rows before it (vectorised)."""
    k = np.arange(before + 1, before + n + 1, dtype=np.int64)
    if not bad_rows:
        return k
    b = np.sort(np.asarray(bad_rows, dtype=np.int64))
    return k + np.searchsorted(b - np.arange(len(b)), k, side="right")


def _flag_last_row(frame: pd.DataFrame, numbers: np.ndarray, bad_rows: list[int], sc: Scan | None,
                   rejects: list, warnings: list[str] | None) -> tuple[pd.DataFrame, np.ndarray]:
    """A file whose last line has no line end may have been cut: a last row left inside an open
    quote is set aside; a complete one lands, and the delivery's note says so."""
    if sc is None or sc.ends_newline or not len(frame):
        return frame, numbers
    if bad_rows and max(bad_rows) > int(numbers[-1]):
        return frame, numbers          # the last row was set aside already (flagged at the end)
    if sc.quotes % 2 == 1:
        last = frame.iloc[-1]
        rec = {k: (None if pd.isna(v) else v) for k, v in last.items()}
        rejects.append(RowReject(int(numbers[-1]), rec,
                                 "the last line has no line end and ends inside a quoted value (file cut mid-row?)"))
        return frame.iloc[:-1], numbers[:-1]
    if warnings is not None:
        warnings.append(f"the last line (row {int(numbers[-1])}) has no line end; it landed complete "
                        "(check the file was not cut)")
    return frame, numbers


def _csv_problem(e: Exception, lim: IngestLimits) -> FileProblem:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if "straddl" in msg:
        return FileProblem(f"a row is longer than max_row_bytes ({lim.max_row_bytes})")
    return FileProblem(f"cannot parse CSV: {msg}")


def _json_lines(f: Any) -> Iterator[tuple[int, Any, str, str | None]]:
    """(line number, the parsed line or None, its text, problem or None) per non-blank line."""
    for lineno, line in enumerate(f, start=1):
        if not line.strip():
            continue
        text = line.rstrip("\r\n")[:2000]
        try:
            yield lineno, json.loads(line), text, None
        except json.JSONDecodeError as e:
            yield lineno, None, text, f"malformed JSON: {e.msg} at column {e.colno}"
        except RecursionError:
            yield lineno, None, text, "malformed JSON: nested too deeply"


def read_jsonl(path: Path, conn: FileConnector, encoding: str, rejects: list,
               limits: IngestLimits | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """JSON Lines, or a JSON array / an object wrapping one (``leadflow.ingest.jsondoc``: a
    row per element, numbered by its place): a malformed line or element becomes a reject
    (row, raw text, why); blank lines are skipped.

    Lines are no longer than ``max_row_bytes`` (checked by the scan before reading); an object
    with more keys than ``max_columns`` is set aside, and a file whose objects together name
    more keys than that is refused."""
    from leadflow.ingest import jsondoc
    lim = _limits(limits)
    if path.stat().st_size == 0:
        raise FileProblem("empty file (no records)")
    keys: set[str] = set()
    form = jsondoc.shape(path, encoding)
    not_object = "a JSON line must be an object" if form == "lines" else "array element is not an object"
    with open(path, encoding=encoding, newline=None) as f:
        items = _json_lines(f) if form == "lines" else jsondoc.elements(path, encoding, lim.max_row_bytes)
        recs: list[dict[str, Any]] = []
        rows: list[int] = []
        for lineno, obj, text, why in items:
            if why is None and not isinstance(obj, dict):
                why = not_object
            if why is None and len(obj) > lim.max_columns:
                why = f"object has {len(obj)} keys, more than max_columns ({lim.max_columns})"
            if why is not None:
                rejects.append((lineno, text, why))
                continue
            keys.update(obj)
            if len(keys) > lim.max_columns:
                raise FileProblem(f"objects name more than max_columns ({lim.max_columns}) keys", row=lineno)
            recs.append(obj)
            rows.append(lineno)
            if len(recs) >= conn.chunk_rows:
                yield _json_frame(recs), np.asarray(rows, dtype=np.int64)
                recs, rows = [], []
        if recs:
            yield _json_frame(recs), np.asarray(rows, dtype=np.int64)


def _json_frame(recs: list[dict[str, Any]]) -> pd.DataFrame:
    # object dtype: pandas' inferred string dtype cannot hold a lone surrogate from a JSON
    # escape, and such a row must reach the unsafe-text check to be set aside
    return as_text(pd.DataFrame(recs, dtype=object))


def read_parquet(path: Path, conn: FileConnector,
                 limits: IngestLimits | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    import pyarrow.parquet as pq
    lim = _limits(limits)
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise FileProblem(f"not a readable Parquet file: {type(e).__name__}") from None
    md = pf.metadata
    if md.num_columns > lim.max_columns:
        raise FileProblem(f"has {md.num_columns:,} columns, more than max_columns ({lim.max_columns})")
    if md.num_rows > lim.max_rows:
        raise FileProblem(f"has {md.num_rows:,} rows, more than max_rows ({lim.max_rows})")
    raw = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    if raw > lim.max_decompressed_bytes:
        raise FileProblem(f"holds {raw:,} bytes uncompressed, more than max_decompressed_bytes "
                          f"({lim.max_decompressed_bytes})")
    start = 1
    for batch in pf.iter_batches(batch_size=conn.chunk_rows):
        df = as_text(batch.to_pandas())
        n = len(df)
        yield df, np.arange(start, start + n, dtype=np.int64)
        start += n


def _zip_size(src: Any, lim: IngestLimits) -> None:
    """Refuse a workbook whose parts decompress to more than the cap (a zip bomb) before
    openpyxl inflates any of it."""
    import zipfile
    try:
        with zipfile.ZipFile(src) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise FileProblem(f"not a readable XLSX workbook: {type(e).__name__}") from None
    finally:
        if hasattr(src, "seek"):
            src.seek(0)
    if total > lim.max_decompressed_bytes:
        raise FileProblem(f"decompresses to {total:,} bytes, more than max_decompressed_bytes "
                          f"({lim.max_decompressed_bytes})")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def read_xlsx(path: Any, conn: FileConnector,
              limits: IngestLimits | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """XLSX, streamed (openpyxl read-only). Rows whose cells are all empty (formatted blank rows
    below the data) are skipped, as blank CSV lines are; a row's number is its sheet row minus
    the header row. The sheet's declared size is checked against the caps before any row."""
    from openpyxl import load_workbook
    lim = _limits(limits)
    _zip_size(path, lim)
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
        _check_dimension(ws, lim)
        it = ws.iter_rows(values_only=True)
        head = list(itertools.islice(it, TITLE_LINES_MAX + 1))      # a report's title rows above the header
        skip = title_rows([list(r) for r in head])
        header = head[skip] if len(head) > skip else None
        it = itertools.chain(head[skip + 1:], it)
        if header is None:
            raise FileProblem("empty workbook sheet (no header row)")
        if len(header) > lim.max_columns:
            raise FileProblem(f"header has {len(header):,} columns, more than max_columns ({lim.max_columns})",
                              row=1)
        cols = ["" if h is None else str(h).strip() for h in header]
        buf: list[tuple[Any, ...]] = []
        nums: list[int] = []
        for n, row in enumerate(it, start=1):
            if n > lim.max_rows:
                raise FileProblem(f"more than max_rows ({lim.max_rows}) rows")
            if all(_blank(v) for v in row):
                continue
            buf.append(row)
            nums.append(n)
            if len(buf) >= conn.chunk_rows:
                yield _xlsx_frame(buf, cols), np.asarray(nums, dtype=np.int64)
                buf, nums = [], []
        if buf:
            yield _xlsx_frame(buf, cols), np.asarray(nums, dtype=np.int64)
    finally:
        wb.close()


def _check_dimension(ws: Any, lim: IngestLimits) -> None:
    """The sheet's declared dimension (e.g. ``A1:XFD1048576``) drives how wide openpyxl makes
    every row: refuse one beyond the caps instead of allocating for it."""
    cols, rows = ws.max_column, ws.max_row
    dim = ws.calculate_dimension() if cols and rows else "unsized"
    if cols and cols > lim.max_columns:
        raise FileProblem(f"sheet declares {cols:,} columns ({dim}), more than max_columns ({lim.max_columns})")
    if rows and rows - 1 > lim.max_rows:
        raise FileProblem(f"sheet declares {rows:,} rows ({dim}), more than max_rows ({lim.max_rows})")


def bounded(chunks: Iterator[tuple[pd.DataFrame, np.ndarray]], limits: IngestLimits | None,
            rejects: list, cells: bool = True) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Apply the per-file caps every format shares: more than ``max_rows`` data rows refuses the
    file; a value longer than ``max_cell_bytes`` characters sets its row aside (cut in the
    quarantined copy) so one runaway cell never reaches the warehouse."""
    lim = _limits(limits)
    seen = 0
    for frame, rows in chunks:
        seen += len(frame)
        if max(seen, int(rows[-1]) if len(rows) else 0) > lim.max_rows:
            raise FileProblem(f"more than max_rows ({lim.max_rows}) data rows")
        yield _long_cells(frame, rows, lim.max_cell_bytes, rejects) if cells else (frame, rows)


def _long_cells(frame: pd.DataFrame, rows: np.ndarray, cap: int, rejects: list,
                candidates: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Set aside rows with a value longer than ``cap``; ``candidates`` (from Arrow) narrows
    the per-column measuring to the rows already known to hold one."""
    bad = np.zeros(len(frame), dtype=bool)
    why: dict[int, list[str]] = {}
    for c in frame.columns:
        s = frame[c]
        if s.dtype != object:
            continue
        if candidates is not None:
            long = np.zeros(len(frame), dtype=bool)
            idx = np.flatnonzero(candidates)
            long[idx] = [isinstance(v, str) and len(v) > cap for v in s.to_numpy()[idx]]
        else:
            long = (s.str.len() > cap).fillna(False).to_numpy(dtype=bool)
        if long.any():
            bad |= long
            for i in np.flatnonzero(long).tolist():
                why.setdefault(i, []).append(f"{c}: value longer than max_cell_bytes ({cap})")
    if not bad.any():
        return frame, rows
    for i in np.flatnonzero(bad).tolist():
        rec = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else
                   (v[:cap] + "…" if isinstance(v, str) and len(v) > cap else v))
               for k, v in frame.iloc[i].items()}
        rejects.append(RowReject(int(rows[i]), rec, "; ".join(why[i])))
    return frame[~bad], rows[~bad]


def _xlsx_frame(rows: list[tuple[Any, ...]], cols: list[str]) -> pd.DataFrame:
    width = len(cols)
    data = [tuple(r[:width]) + (None,) * (width - len(r)) for r in rows]
    df = pd.DataFrame.from_records(data, columns=_dedupe(cols))   # as the CSV reader names them
    for c in df.columns:   # whole-number floats from Excel read back as integers
        if df[c].dtype.kind == "f" and df[c].dropna().mod(1).eq(0).all():
            df[c] = df[c].astype("Int64")
    return _drop_unnamed(as_text(df))
