"""The quality step: landed staging rows -> passed | quarantined, per-source gates, GX results.

Great Expectations decides (``leadflow.quality.engine``); memory stays bounded by the chunk
size, whatever a source delivers:

1. per kind, the landed rows of batches not yet validated are grouped by source and batch;
2. per source, the full rows are read in chunks (keyset on ``(batch_id, row_number)`` within
   each batch); GX validates each chunk against the suite's row-local expectations (COMPLETE
   results, failing rows by ``row_key``); failing rows are upserted into ``quarantine`` and
   moved to ``quarantined`` (set-based); the others are not written at all: once the source
   is done its batches are marked validated (``ingest_batches.validated_at``), and a
   ``landed`` row of a validated batch has passed (``leadflow.store.rowstate``). The write
   follows the failures, not the rows checked;
3. expectations that compare rows (uniqueness, z-scores, ...) run once per source on the
   columns they read, gathered over the chunks; the rows they fail are quarantined too;
4. dataset-level expectations (row count, missing shares, column set) run once per source on
   the columns they read (other columns present, as placeholders) and yield warnings;
5. a source whose quarantined share is above its ``quality.fail_share`` is *held*: its
   batches are not marked, its passing rows stay ``landed`` (nothing of it is loaded, scored
   or handed off), an alert names it and the next command; every other source flows on.

GX's results (counts only, no row values) are written for the Data Docs, which a task of
their own builds (``leadflow.quality.docs``). A source is one transaction: if the step dies
half-way, that source's rows are all still landed and its batches unmarked.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import KINDS
from leadflow.context import RunContext
from leadflow.faults import checkpoint
from leadflow.ingest.mapping import derived_id_field
from leadflow.quality import params as qparams
from leadflow.quality import redelivery
from leadflow.quality.frame import (
    _has_unknown_parameter,
    dataset_checks,
    dataset_results,
    evaluate,
    parameters,
    row_keys,
    run_checks,
)
from leadflow.quality.suites import Check, Suite, load_suite, read_columns_of
from leadflow.store import db, rowstate
from leadflow.store.frames import read_columns
from leadflow.store.schema import STAGING, ingest_batches, quarantine

log = logging.getLogger("leadflow.quality")

LINEAGE_COLS = ("source", "batch_id", "row_number", "loaded_at", "state")
#: Rows per chunk read from the warehouse: bounded memory (GX copies a chunk's columns per
#: expectation: measured ~2.3 GiB peak at 500k inbound leads, ~0.45 GiB at 100k) against GX's
#: fixed cost per run (~0.4 s of bookkeeping whatever the size).
CHUNK_ROWS = 250_000
#: On PostgreSQL, a kind with this many landed rows has its staging table analysed first.
ANALYZE_ROWS = 50_000


# ----------------------------------------------------------------------------- reading
def _fetch(conn: Connection, sql: str, params: dict[str, Any], cols: list[str]) -> pd.DataFrame:
    return db.read_frame(conn, sql, params)[cols]


def _cols_sql(cols: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def landed_query(kind: str) -> sa.Select:
    """``source, batch_id, n`` of the kind's landed rows: through the state index, so its cost
    follows what landed since the last validation, not the rows the warehouse holds."""
    t = STAGING[kind]
    return (sa.select(t.c.source, t.c.batch_id, sa.func.count().label("n")).where(rowstate.unvalidated(t))
            .group_by(t.c.source, t.c.batch_id).order_by(t.c.source, t.c.batch_id))


def landed_batches(conn: Connection, kind: str) -> pd.DataFrame:
    """``source, batch_id, n`` for the kind's landed rows."""
    return db.read_frame(conn, landed_query(kind))


#: The chunk read's predicate: one batch's landed rows after a row number (the primary key).
CHUNK_WHERE = "batch_id = :b AND row_number > :r AND state = 'landed'"


def read_chunks(conn: Connection, kind: str, batch_ids: list[int], size: int = CHUNK_ROWS,
                columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The landed rows of some batches in ``(batch_id, row_number)`` order, about ``size`` rows
    at a time: keyset paging within a batch (the primary key), small batches gathered into one
    chunk; columnar reads (``read_columns``), not a Python object per value."""
    t = STAGING[kind]
    cols = columns or [c.name for c in t.columns]
    parts: list[pd.DataFrame] = []
    have = 0
    for b in batch_ids:
        last = -1
        while True:
            want = size - have
            df = read_columns(conn, t, cols, CHUNK_WHERE, {"b": int(b), "r": int(last)}, ["row_number"], want)
            if not df.empty:
                parts.append(df)
                have += len(df)
                last = int(df["row_number"].iloc[-1])
            if have >= size:
                yield parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
                parts, have = [], 0
            if len(df) < want:
                break
    if parts:
        yield parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def checked_columns(kind: str, suite: Suite | None = None) -> list[str]:
    """Columns the checks read: lineage, every typed (non-text) field, every column a check
    names. Text fields no check names cannot fail and are read only for quarantined rows.
    Without ``suite``, from the suite's JSON (no GX needed yet); all columns if unreadable."""
    t = STAGING[kind]
    if suite is not None:
        fields, named = suite.fields, {c for ch in suite.checks for c in ch.columns}
    else:
        hint = read_columns_of(kind)
        if hint is None:
            return [c.name for c in t.columns]
        fields, named = hint
    keep = {"source", "batch_id", "row_number"} | named | {f for f, typ in fields.items() if typ != "str"}
    return [c.name for c in t.columns if c.name in keep]


class Prefetch:
    """Reads the next chunk in a thread while GX validates the current one (SQLite and the
    PostgreSQL driver release the GIL while they work; GX mostly holds it): on two cores the
    read mostly hides behind GX. The connection is used by one thread at a time: ``wait``
    before the caller uses it (writes), ``close`` before the transaction ends."""

    def __init__(self, chunks: Iterator[pd.DataFrame]) -> None:
        self.chunks = chunks
        self.thread: threading.Thread | None = None
        self.item: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0                     # time spent reading (in the thread)

    def _read(self) -> None:
        t = time.perf_counter()
        try:
            self.item = next(self.chunks, None)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            self.error = e
        self.seconds += time.perf_counter() - t

    def start(self) -> None:
        """Start reading the next chunk (if no read is in flight or waiting to be taken)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._read, name="quality-read", daemon=True)
            self.thread.start()

    def wait(self) -> None:
        """Until the read in flight (if any) is done: the connection is free again."""
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            err, self.error = self.error, None
            raise err

    def take(self) -> pd.DataFrame | None:
        """The next chunk (None at the end)."""
        self.start()
        self.wait()
        item, self.item, self.thread = self.item, None, None
        return item

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None


def fetch_rows(conn: Connection, kind: str, keys: pd.DataFrame) -> pd.DataFrame:
    """Full staging rows for some ``(batch_id, row_number)`` pairs, in the order given."""
    t = STAGING[kind]
    cols = [c.name for c in t.columns]
    parts = []
    for b, grp in keys.groupby("batch_id", sort=False):
        nums = [int(x) for x in grp["row_number"]]
        for i in range(0, len(nums), 5000):
            ids = ", ".join(str(n) for n in nums[i:i + 5000])      # integers: safe inline
            parts.append(_fetch(conn, f'SELECT {_cols_sql(cols)} FROM "{t.name}" WHERE batch_id = '
                                      f"{int(b)} AND row_number IN ({ids})", {}, cols))
    if not parts:
        return pd.DataFrame(columns=cols)
    full = pd.concat(parts, ignore_index=True)
    order = pd.MultiIndex.from_frame(keys[["batch_id", "row_number"]].astype("int64"))
    return full.set_index(["batch_id", "row_number"], drop=False).loc[order].reset_index(drop=True)


def global_checks(suite: Suite, p: dict[str, Any]) -> list[Check]:
    """Row checks that compare rows with each other (GX scope ``source``: uniqueness, z-scores,
    any map expectation not known to be row-local) and can run (parameters known)."""
    return [c for c in suite.row_checks if c.scope == "source" and not _has_unknown_parameter(c, p)]


# ----------------------------------------------------------------------------- writing
def record_json(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts (timestamps ISO, NaN -> null, JSON text attributes parsed)."""
    if df.empty:
        return []
    recs = json.loads(df.drop(columns=[c for c in ("state",) if c in df.columns])
                      .to_json(orient="records", date_format="iso", date_unit="s", default_handler=str))
    if "attributes" in df.columns:
        for r in recs:
            a = r.get("attributes")
            if isinstance(a, str):
                try:
                    r["attributes"] = json.loads(a)
                except ValueError:
                    pass
    return recs


def quarantine_rows(conn: Connection, kind: str, rows: pd.DataFrame, reasons: list[list[str]],
                    created_at: datetime, stage: str = "quality") -> int:
    """Store failing rows (idempotent per kind, batch and row: a re-check updates the reasons)."""
    if rows.empty:
        return 0
    recs = record_json(rows)
    out = [{"source": str(r["source"]), "kind": kind, "batch_id": int(b), "row_number": int(n),
            "stage": stage, "record": r, "reasons": list(why), "status": "open", "created_at": created_at}
           for r, b, n, why in zip(recs, rows["batch_id"], rows["row_number"], reasons)]
    db.upsert(conn, quarantine, out, ["kind", "batch_id", "row_number"], ["stage", "reasons", "status"])
    return len(out)


def quarantine_failed(conn: Connection, kind: str, chunk: pd.DataFrame, failed: np.ndarray,
                      reasons: list[list[str]], created_at: datetime) -> int:
    """Quarantine a chunk's failing rows with their full staged record (read back by key)."""
    if not failed.any():
        return 0
    rows = fetch_rows(conn, kind, chunk.loc[failed, ["batch_id", "row_number"]])
    return quarantine_rows(conn, kind, rows, reasons, created_at)


def _in_list(nums: list[int]) -> Iterator[str]:
    """Row numbers as inline SQL lists of at most 5,000 (integers: safe to inline)."""
    for i in range(0, len(nums), 5000):
        yield ", ".join(str(int(n)) for n in nums[i:i + 5000])


def mark_quarantined(conn: Connection, kind: str, keys: pd.DataFrame) -> None:
    """Set-based: these ``(batch_id, row_number)`` rows -> ``quarantined``. The rest of a
    validated batch stays ``landed`` and has passed once the batch is marked
    (``rowstate.mark_validated``): the write follows the failures, not the rows checked."""
    t = STAGING[kind].name
    for b, grp in keys.groupby("batch_id", sort=False)["row_number"]:
        for ids in _in_list([int(x) for x in grp]):
            # ``state || ''``: the guard must not pick the state index over the primary key
            # (SQLite without statistics did: a scan of every landed row per statement)
            conn.execute(sa.text(f'UPDATE "{t}" SET state = \'quarantined\' WHERE batch_id = :b '
                                 f"AND row_number IN ({ids}) AND state || '' = 'landed'"), {"b": int(b)})


class SourceCheck:
    """Accumulates one source's results over its chunks."""

    def __init__(self, kind: str, source: str, suite: Suite, p: dict[str, Any],
                 mapped: set[str] | None, n_total: int) -> None:
        self.kind, self.source, self.suite, self.p = kind, source, suite, p
        self.rows = self.failed = 0
        self.counts: dict[str, int] = {}
        self.skipped: list[str] = []
        self.held = False
        self.redelivered = 0        # unchanged repeats suppressed before the checks
        self.ds_checks = dataset_checks(suite, p, mapped, self.skipped)
        self.ds: dict[str, dict[str, Any]] = {}
        # The dataset checks' frame: the columns they read, in full; the others as placeholders.
        self.ds_cols = list(dict.fromkeys(c for ch in self.ds_checks for c in ch.columns))
        self.ds_parts: list[pd.DataFrame] = []
        self.docs: list[dict[str, Any]] = []
        self.columns: list[str] = []
        # Row-comparing checks: their columns over the chunks; reasons of rows chunks failed
        self.key_parts: list[pd.DataFrame] = []
        self.failed_reasons: dict[int, list[str]] = {}     # row_key -> reasons

    @property
    def label(self) -> str:
        return f"{self.kind}.{self.source}"

    def add(self, ev: Any) -> None:
        self.rows += ev.rows
        self.failed += ev.n_failed
        for k, v in ev.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        if self.ds_checks:
            prep = ev.prepared
            if not self.columns:
                self.columns = list(prep.columns)
            self.ds_parts.append(prep[[c for c in self.ds_cols if c in prep.columns]])

    def run_dataset(self, as_of: datetime | None) -> None:
        """GX's dataset-level expectations over the whole source (once, after the chunks)."""
        if not self.ds_checks:
            return
        real = pd.concat(self.ds_parts, ignore_index=True) if self.ds_parts else pd.DataFrame()
        n = self.rows
        frame = pd.DataFrame({c: (real[c] if c in real.columns else np.zeros(n, dtype=np.int8))
                              for c in (self.columns or self.ds_cols)}, index=pd.RangeIndex(n))
        self.ds_parts = []
        pp = parameters(self.suite, as_of, self.p)
        out = run_checks(self.suite, self.ds_checks, frame, pp, f"{self.label}.dataset", self.docs,
                         all_columns=True)
        self.ds = dataset_results(self.ds_checks, out, pp)

    def dataset(self) -> dict[str, dict[str, Any]]:
        return self.ds

    def top(self) -> tuple[str, int] | None:
        if not self.counts:
            return None
        name = max(self.counts, key=lambda k: (self.counts[k], k))
        return name, self.counts[name]


def _share(n: int, of: int) -> float:
    return n / of if of else 0.0


def _gate_line(sc: SourceCheck, limit: float) -> str:
    top = sc.top()
    top_txt = f"; most failed expectation {top[0]!r} ({top[1]} rows)" if top else ""
    return (f"source {sc.source!r} ({sc.kind}): {sc.failed} of {sc.rows} rows quarantined "
            f"({_share(sc.failed, sc.rows):.1%} > fail_share {limit:.0%}){top_txt}")


def _identity_view(ctx: RunContext, kind: str, source: str, chunk: pd.DataFrame) -> pd.DataFrame:
    """Leads of a source whose record ids leadflow derives (``record_id``) are checked as if they
    had no id: a row number or row hash names the record, not the person, so a lead without an
    address still fails ``identity_required`` (docs/ingest.md). The stored row keeps its id."""
    if kind != "inbound_leads":
        return chunk
    try:
        fld = derived_id_field(ctx.settings.source(source))
    except Exception:  # noqa: BLE001 - a source removed from the config: check as it is
        return chunk
    return chunk.assign(**{fld: None}) if fld and fld in chunk.columns else chunk


def check_source(ctx: RunContext, kind: str, source: str, batches: pd.DataFrame,
                 chunk_rows: int, timings: dict[str, float]) -> SourceCheck:
    """Validate one source's landed rows chunk by chunk with GX, in one transaction.

    The first chunk is read while the suite loads (GX's import, on the first source), each
    next one while GX validates the current one (``Prefetch``). Checks comparing rows with
    each other need the whole source: the chunks collect the columns they read, GX runs them
    once at the end, and the few rows they fail are read again, evaluated whole and
    quarantined (reasons in suite order, as in one pass). Above the source's fail threshold
    its batches are not marked validated (held)."""
    batch_ids = [int(b) for b in batches["batch_id"]]
    with ctx.engine.begin() as conn:
        t = time.perf_counter()
        again = redelivery.suppress(conn, kind, source, batch_ids)    # unchanged repeats: not errors
        timings["redelivered"] = timings.get("redelivered", 0.0) + time.perf_counter() - t
        chunks = Prefetch(read_chunks(conn, kind, batch_ids, chunk_rows, checked_columns(kind)))
        try:
            chunks.start()
            t = time.perf_counter()
            suite = load_suite(kind)      # GX builds (and imports) here: a bad suite stops early
            timings["load_suites"] = timings.get("load_suites", 0.0) + time.perf_counter() - t
            chunks.wait()                 # the connection is free again
            sc = _check_chunks(ctx, conn, suite, kind, source, batches, chunks, timings)
            sc.redelivered = again
        finally:
            chunks.close()
            timings["read"] += chunks.seconds
        timings["peak_mib_after_chunks"] = peak_mib()
        t = time.perf_counter()
        if sc.key_parts:
            _recheck_global(conn, ctx, sc, pd.concat(sc.key_parts, ignore_index=True), sc.failed_reasons)
        timings["peak_mib_after_source_checks"] = peak_mib()
        sc.run_dataset(ctx.as_of)
        timings["gx_source"] += time.perf_counter() - t
        timings["peak_mib_after_dataset_checks"] = peak_mib()
        th = _thresholds(ctx, source)
        t = time.perf_counter()
        if _share(sc.failed, sc.rows) > th.fail_share:
            hold(conn, kind, source, batch_ids)
            sc.held = True
        else:
            rowstate.mark_validated(conn, batch_ids, ctx.as_of)
        timings["write_states"] += time.perf_counter() - t
    return sc


def _check_chunks(ctx: RunContext, conn: Connection, suite: Suite, kind: str, source: str,
                  batches: pd.DataFrame, chunks: Prefetch, timings: dict[str, float]) -> SourceCheck:
    """GX on each chunk (the next one read meanwhile); quarantine its failing rows."""
    batch_ids = [int(b) for b in batches["batch_id"]]
    t = time.perf_counter()
    p = qparams.for_source(conn, suite, kind, source, batch_ids, ctx.settings)
    timings["params"] = timings.get("params", 0.0) + time.perf_counter() - t
    pp = parameters(suite, ctx.as_of, p)
    sc = SourceCheck(kind, source, suite, p, qparams.mapped_fields(ctx.settings, source),
                     int(batches["n"].sum()))
    glob = global_checks(suite, pp)
    key_cols = list(dict.fromkeys(["batch_id", "row_number"] + [c for g in glob for c in g.columns]))
    i = 0
    while True:
        t = time.perf_counter()
        chunk = chunks.take()
        if chunk is not None:
            chunks.start()                # the next read runs while GX validates this chunk
        timings["read_wait"] = timings.get("read_wait", 0.0) + time.perf_counter() - t
        if chunk is None:
            break
        i += 1
        t = time.perf_counter()
        view = _identity_view(ctx, kind, source, chunk)      # derived ids are not identity
        ev = evaluate(kind, view, ctx.as_of, p, suite=suite, dataset=False, scopes=("chunk",),
                      label=f"{sc.label}.rows.{i}", docs=sc.docs)
        sc.add(ev)
        if glob:
            sc.key_parts.append(chunk[[c for c in key_cols if c in chunk.columns]])
            sc.failed_reasons.update(zip(row_keys(chunk["batch_id"][ev.failed],
                                                  chunk["row_number"][ev.failed]).tolist(), ev.reasons))
        timings["gx"] += time.perf_counter() - t
        t = time.perf_counter()
        chunks.wait()                     # the connection is free again
        timings["read_wait"] += time.perf_counter() - t
        t = time.perf_counter()
        quarantine_failed(conn, kind, chunk, ev.failed, ev.reasons, ctx.as_of)
        t2 = time.perf_counter()
        timings["write_quarantine"] += t2 - t
        mark_quarantined(conn, kind, chunk.loc[ev.failed, ["batch_id", "row_number"]])
        timings["write_states"] += time.perf_counter() - t2
        del chunk, ev, view
    return sc


def peak_mib() -> float:
    """This process's peak resident memory so far (MiB), for the step's timings: Linux's
    ``VmHWM`` (``ru_maxrss`` keeps a parent's high-water mark across fork + exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hold(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> None:
    """A source over its fail threshold: its batches are not marked validated, so their passing
    rows stay ``landed`` (not loaded, scored or handed off; validated again by the next run),
    and rows set ``passed`` one by one go back to ``landed``; its quarantined rows stay."""
    t = STAGING[kind]
    for i in range(0, len(batch_ids), 1000):
        conn.execute(sa.update(t).where(t.c.source == source, t.c.batch_id.in_(batch_ids[i:i + 1000]),
                                        t.c.state == "passed").values(state="landed"))


def _recheck_global(conn: Connection, ctx: RunContext, sc: SourceCheck, keys: pd.DataFrame,
                    chunk_reasons: dict[int, list[str]]) -> None:
    """GX runs the row-comparing checks over the whole source; quarantine the rows they fail
    (a row the chunks failed too gets both reasons, in suite order, as in one pass)."""
    kind, suite = sc.kind, sc.suite
    src = evaluate(kind, keys, ctx.as_of, sc.p, suite=suite, dataset=False, scopes=("source",),
                   type_checks=False, label=f"{sc.label}.source", docs=sc.docs)
    if not src.failed.any():
        return
    for name, n in src.counts.items():
        sc.counts[name] = sc.counts.get(name, 0) + n
    hit = src.failed
    hit_keys = row_keys(keys["batch_id"][hit], keys["row_number"][hit]).tolist()
    sc.failed += sum(1 for k in hit_keys if k not in chunk_reasons)
    order = {c.name: i for i, c in enumerate(suite.checks)}
    reasons = [sorted(chunk_reasons.get(k, []) + why, key=lambda r: (r in order, order.get(r, 0)))
               for k, why in zip(hit_keys, src.reasons)]
    rows = fetch_rows(conn, kind, keys.loc[hit, ["batch_id", "row_number"]].reset_index(drop=True))
    quarantine_rows(conn, kind, rows, reasons, ctx.as_of)
    mark_quarantined(conn, kind, rows[["batch_id", "row_number"]])   # passed chunks, not the source


def validate_all(ctx: RunContext, docs: bool = True, chunk_rows: int = CHUNK_ROWS,
                 sources: list[str] | None = None) -> dict[str, Any]:
    """Validate the landed staging rows of batches dated up to the run date (later days wait)
    with GX; quarantine failures; hold sources over their fail threshold while the others flow on.

    Returns ``rows`` (= passed + quarantined + held_rows), ``passed``, ``quarantined``,
    ``redelivered`` (unchanged repeats of touches and outcomes, suppressed before the checks and
    not in ``rows``: ``leadflow.quality.redelivery``),
    ``waiting`` (landed rows of later days, left for their runs), ``warnings`` (one per held
    source, naming it and the next command), ``held`` (those sources), ``held_rows`` (their
    passing rows, left landed), ``by_source``, ``timings`` and, unless ``docs=False`` or
    ``LEADFLOW_DATA_DOCS=0``, ``gx_results``: the file of GX's results (counts, no values) the
    Data Docs task renders (``leadflow quality docs``). ``sources``: only these sources' batches.
    """
    t_start = time.perf_counter()
    counts: dict[str, Any] = {"rows": 0, "passed": 0, "quarantined": 0, "redelivered": 0, "warnings": [],
                              "held": [], "held_rows": 0, "by_source": {}}
    timings = {"read": 0.0, "gx": 0.0, "gx_source": 0.0, "write_quarantine": 0.0, "write_states": 0.0}
    with ctx.engine.begin() as conn:
        # A later day's rows wait, landed, for their own run: judged by this day's clock they
        # would all fail "not future" (re-runs, backfills, two dates at once).
        later = set(conn.execute(sa.select(ingest_batches.c.batch_id)
                                 .where(ingest_batches.c.business_date > ctx.run_date)).scalars())
        todo, counts["waiting"] = {}, 0
        for kind in KINDS:
            landed = landed_batches(conn, kind)
            if sources is not None:   # the intraday path validates its own sources' batches only
                landed = landed[landed["source"].isin(sources)].reset_index(drop=True)
            wait = landed["batch_id"].isin(later).to_numpy(dtype=bool)
            counts["waiting"] += int(landed.loc[wait, "n"].sum())
            todo[kind] = landed.loc[~wait].reset_index(drop=True)
        for kind, landed in todo.items():
            if db.is_postgres(conn) and landed["n"].sum() >= ANALYZE_ROWS:
                # Fresh statistics after a big COPY, so the planner reads chunks by key
                # instead of combining the state index with every chunk.
                conn.execute(sa.text(f'ANALYZE "{STAGING[kind].name}"'))
    results: list[dict[str, Any]] = []
    for kind, landed in todo.items():
        if landed.empty:
            continue
        for source, batches in landed.groupby("source", sort=True):
            sc = check_source(ctx, kind, str(source), batches, chunk_rows, timings)
            _report(ctx, sc, counts)
            checkpoint("quality:source")
            results.extend(sc.docs)
    if docs and os.environ.get("LEADFLOW_DATA_DOCS", "1").strip().lower() not in ("0", "false", "no", "off"):
        from leadflow.quality import docs as qdocs
        t = time.perf_counter()
        counts["gx_results"] = str(qdocs.save_results(ctx.settings.reports_dir, ctx.run_id, results))
        timings["save_results"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    counts["timings"] = {k: round(v, 2) for k, v in timings.items()}
    return counts


def _report(ctx: RunContext, sc: SourceCheck, counts: dict[str, Any]) -> None:
    """Add one source's figures, warnings and gate verdict to the step's counts."""
    n, q, source, kind = sc.rows, sc.failed, sc.source, sc.kind
    ds = sc.dataset()
    counts["rows"] += n
    counts["redelivered"] += sc.redelivered
    counts["quarantined"] += q
    counts["passed"] += n - q if not sc.held else 0
    counts["by_source"][source] = {"kind": kind, "rows": n, "passed": n - q, "quarantined": q,
                                   "redelivered": sc.redelivered,
                                   "held": sc.held, "expectations": dict(sc.counts),
                                   "dataset": {k: v["success"] for k, v in ds.items()}}
    th = _thresholds(ctx, source)
    share = _share(q, n)
    if sc.held:
        counts["held"].append(source)
        counts.setdefault("failed_sources", []).append(source)   # status and the summary name it
        counts["held_rows"] += n - q
        counts["warnings"].append(
            f"quality gate: {_gate_line(sc, th.fail_share)}; held back: {n - q} passing rows stay landed, "
            f"nothing of {source!r} is handed off this run; next: leadflow quarantine list --source "
            f"{source}, fix or discard, then leadflow run --steps quality,load,score,queue,deliver")
        log.warning("quality gate: source %s (%s) held back", source, kind)
    elif share > th.warn_share:
        top = sc.top()
        counts["warnings"].append(
            f"source {source!r} ({kind}): {q} of {n} rows quarantined ({share:.1%} > "
            f"warn_share {th.warn_share:.0%})" + (f"; top {top[0]} ({top[1]})" if top else ""))
    for name, r in ds.items():
        if not r["success"]:
            counts["warnings"].append(f"source {source!r} ({kind}): {name} failed "
                                      f"(observed {r['observed']}, expected {r['expected']})")
    log.info("quality %s %s: %d rows, %d quarantined", kind, source, n, q)


def _thresholds(ctx: RunContext, source: str) -> Any:
    from leadflow.config import QualityThresholds
    try:
        return ctx.settings.source(source).quality
    except Exception:  # noqa: BLE001 - a source no longer configured: defaults
        return QualityThresholds()


__all__ = ["validate_all", "read_chunks", "quarantine_rows",
           "mark_quarantined", "record_json"]
