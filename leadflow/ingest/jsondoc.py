"""JSON exports that are not JSON Lines: a top-level array, or an object wrapping one.

CRM and marketing APIs (and the files people save from them) write ``[{...}, {...}]``, pretty
printed or on one line, or ``{"results": [...], "paging": ...}``. Each element is a row,
numbered by its place in the array (1-based). The array is read element by element with
``json.JSONDecoder.raw_decode`` over a sliding buffer, so memory follows the largest element,
not the file; an element over ``max_row_bytes`` refuses the file (nothing after it can be
found safely). A file cut inside an element keeps the whole elements before the cut and
rejects the cut one, saying so. A wrapping object must hold exactly one array of objects and
is read whole, within ``DOCUMENT_CAP`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

from leadflow.ingest.formats import _BLOCK, FileProblem

_PEEK = 1 << 16                 # how much of the first line tells the shape
DOCUMENT_CAP = 256 << 20        # a wrapping object is parsed whole: its size is capped
_WS = " \t\r\n"

#: (element number, the element or None, its text (cut to 2,000 characters), problem or None)
Element = tuple[int, Any, str, str | None]


def shape(path: Path, encoding: str) -> Literal["lines", "array", "document"]:
    """How a .json/.jsonl file holds its records: JSON Lines, a top-level array, or one object
    wrapping an array (its first line does not parse alone, or it is the whole file)."""
    with open(path, encoding=encoding, errors="replace", newline=None) as f:
        first = f.readline(_PEEK)
        while first and not first.strip():
            first = f.readline(_PEEK)
        rest = f.read(4096)
    head = first.lstrip(_WS + "\ufeff")
    if head.startswith("["):
        return "array"
    if not head.startswith("{") or (len(first) >= _PEEK and not first.endswith("\n")):
        return "lines"              # a long first line: JSON Lines, which the line cap guards
    try:
        json.loads(head)
    except (json.JSONDecodeError, RecursionError):
        return "document"
    return "document" if not rest.strip() else "lines"


def elements(path: Path, encoding: str, max_bytes: int) -> Iterator[Element]:
    """The records of an array or wrapping-object file, in order."""
    with open(path, encoding=encoding, errors="strict", newline=None) as f:
        head = f.read(1)
        while head and (head in _WS or head == "\ufeff"):
            head = f.read(1)
        if head == "[":
            yield from _array(f, max_bytes)
        else:
            yield from _wrapped(path, encoding)


def _wrapped(path: Path, encoding: str) -> Iterator[Element]:
    if path.stat().st_size > DOCUMENT_CAP:
        raise FileProblem(f"a JSON document over {DOCUMENT_CAP >> 20} MiB that is not an array; "
                          "export it as JSON Lines or as a top-level array")
    try:
        doc = json.loads(path.read_text(encoding=encoding))
    except json.JSONDecodeError as e:
        raise FileProblem(f"malformed JSON document: {e.msg} (line {e.lineno}, column {e.colno})",
                          row=None) from None
    arrays = [k for k, v in doc.items() if isinstance(v, list) and any(isinstance(x, dict) for x in v)] \
        if isinstance(doc, dict) else []
    if len(arrays) > 1:
        raise FileProblem(f"a JSON object holding several arrays of records ({', '.join(arrays)}); "
                          "which one to read is unclear")
    items = doc[arrays[0]] if arrays else [doc]
    for n, x in enumerate(items, start=1):
        yield n, x, json.dumps(x, ensure_ascii=False)[:2000], None


def _array(f: TextIO, max_bytes: int) -> Iterator[Element]:
    dec = json.JSONDecoder()
    buf, pos, n, eof = "", 0, 0, False
    while True:
        pos = _skip(buf, pos)
        if pos >= len(buf) and not eof:
            buf, pos, eof = _more(f, buf, pos)
            continue
        if pos >= len(buf) or buf[pos] == "]":      # the end (or a cut between elements)
            return
        try:
            obj, end = dec.raw_decode(buf, pos)
        except (json.JSONDecodeError, RecursionError) as e:
            if not eof and len(buf) - pos <= max_bytes:
                buf, pos, eof = _more(f, buf, pos)
                continue
            n += 1
            text = buf[pos:pos + 2000]
            if eof and isinstance(e, json.JSONDecodeError) and e.pos >= len(buf) - 1:
                yield n, None, text, "cut: the file ends inside this element (a truncated export?)"
                return
            if len(buf) - pos > max_bytes:
                raise FileProblem(f"array element {n} is longer than max_row_bytes ({max_bytes})", row=n) from None
            raise FileProblem(f"malformed JSON in array element {n}: {getattr(e, 'msg', e)}", row=n) from None
        if end >= len(buf) and not eof:      # a number or word may go on past the buffer
            buf, pos, eof = _more(f, buf, pos)
            continue
        n += 1
        if end - pos > max_bytes:
            raise FileProblem(f"array element {n} is longer than max_row_bytes ({max_bytes})", row=n)
        yield n, obj, buf[pos:end][:2000], None
        pos = _skip(buf, end)
        if pos < len(buf) and buf[pos] == ",":
            pos += 1


def _skip(buf: str, pos: int) -> int:
    while pos < len(buf) and buf[pos] in _WS:
        pos += 1
    return pos


def _more(f: TextIO, buf: str, pos: int) -> tuple[str, int, bool]:
    block = f.read(_BLOCK)
    return buf[pos:] + block, 0, not block
