"""``read_mapped``: a source's files as one canonical, typed DataFrame, without the warehouse.

Used where a whole delivery is wanted in memory (e.g. evaluating a model on a lead file with
an outcome column). Landing into the warehouse goes through :func:`leadflow.ingest.land`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leadflow.config import FileConnector, Source
from leadflow.errors import InputError
from leadflow.ingest import files
from leadflow.ingest.coerce import numeric_if_clean
from leadflow.ingest.formats import FileProblem, RowReject
from leadflow.ingest.mapping import HeaderProblem, map_frame


def read_mapped(source: Source, path: Path | None = None, base_dir: Path | None = None) -> pd.DataFrame:
    """Canonical columns (typed), one column per declared attribute, and ``row_number``.

    Values that cannot be typed become missing; how many rows had such values is in
    ``df.attrs["rejected_rows"]`` and their reasons in ``df.attrs["reasons"]`` (row -> list).
    Raises InputError (naming source, file, row and field) when a file is unreadable or a
    mapped column is absent.
    """
    conn = source.connector if isinstance(source.connector, FileConnector) else FileConnector(path=".")
    paths = files.source_files(source, Path(path) if path is not None else None, base_dir)
    if not paths:
        where = path or (source.connector.path if isinstance(source.connector, FileConnector)
                         else source.connector.type)
        raise InputError(f"source {source.name}: no files found at {where}")
    frames, reasons = [], {}
    offset = 0
    for p in paths:
        for df, rs in _read_one(source, conn, p):
            df["row_number"] = df["row_number"] + offset
            frames.append(df)
            reasons.update({int(k) + offset: v for k, v in rs.items()})
        offset = int(frames[-1]["row_number"].max()) if frames else offset
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for c in source.attributes:
        if c in out.columns:
            out[c] = numeric_if_clean(out[c])
    out = out.sort_values("row_number", kind="stable").reset_index(drop=True) if len(out) else out
    out.attrs["rejected_rows"] = len(reasons)
    out.attrs["reasons"] = reasons
    return out


def _read_one(source: Source, conn: FileConnector, p: Path):
    where = f"source {source.name}, file {p.name}"
    if files.lstat(p) is None:      # a link or a pipe is refused by prepare, out loud
        raise InputError(f"{where}: file not found")
    try:
        d = files.prepare(conn, p, p.parent, source.limits)
        with d:             # the open file is read through, then closed
            for raw, rows in files.read(conn, d):
                try:
                    m = map_frame(source, raw, rows, delivery=p.name, attributes="declared",
                                  keep_bad=True)
                except HeaderProblem as e:
                    raise InputError(f"{where}, row 1 (header), field {e.fields[0]}: {e}") from None
                rs = dict(zip(m.rejects["row_number"].tolist(), m.rejects["reasons"].tolist()))
                frame = m.frame
                for c in m.attribute_columns:
                    if c not in frame.columns:      # a canonical name wins over a same-named column
                        frame[c] = m.attrs[c].to_numpy()
                yield frame, rs
            if d.line_rejects:
                first = d.line_rejects[0]
                row, why = (first.row, first.why) if isinstance(first, RowReject) else (first[0], first[2])
                raise InputError(f"{where}, row {row}: {why}")
    except FileProblem as e:
        row = f", row {e.row}" if e.row else ""
        fld = f", field {e.field}" if e.field else ""
        raise InputError(f"{where}{row}{fld}: {e.why}") from None
    except files.StillWriting:
        raise InputError(f"{where}: the file changed while it was read (still being written?)") from None

