"""The quality step: landed staging rows -> passed | quarantined, thresholds, Data Docs.

Memory stays bounded by the chunk size, whatever a source delivers:

1. per kind, the landed rows are grouped by source and batch (one small GROUP BY);
2. per source, the checks that compare rows with each other (unique keys, from the suite) run
   once over the source's *key columns only*; their failing rows are kept as (batch, row) keys;
3. the full rows are then read in chunks (keyset on ``(batch_id, row_number)`` within each
   batch), every other row check runs on the chunk, failing rows are upserted into
   ``quarantine`` and the chunk's states move with two set-based UPDATEs (the chunk's open
   entries -> ``quarantined``, the rest of its row range -> ``passed``);
4. dataset-level checks add up counts over the chunks; GX (in a worker process, see
   ``gxworker``) gets one small frame per source for them and one Data Docs sample, and the
   Data Docs are built once per run.

A source is one transaction: if the step dies half-way, that source's rows are all still landed.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import KINDS
from leadflow.context import RunContext
from leadflow.errors import QualityGateError
from leadflow.faults import checkpoint
from leadflow.ingest.mapping import derived_id_field
from leadflow.quality import params as qparams
from leadflow.quality import translate
from leadflow.quality.frame import _has_unknown_parameter, dataset_checks, evaluate, parameters
from leadflow.quality.suites import Suite, load_suite
from leadflow.store import db
from leadflow.store.schema import STAGING, ingest_batches, quarantine

log = logging.getLogger("leadflow.quality")

LINEAGE_COLS = ("source", "batch_id", "row_number", "loaded_at", "state")
#: Rows per chunk read from the warehouse (bounded memory; ~0.5 GiB at 200k inbound leads).
CHUNK_ROWS = 200_000
#: Data Docs sample per source: every failing row up to DOCS_FAILED, ~DOCS_ROWS rows in all.
DOCS_ROWS, DOCS_FAILED = 10_000, 2_000
#: On PostgreSQL, a kind with this many landed rows has its staging table analysed first.
ANALYZE_ROWS = 50_000


# ----------------------------------------------------------------------------- reading
def _fetch(conn: Connection, sql: str, params: dict[str, Any], cols: list[str]) -> pd.DataFrame:
    return db.read_frame(conn, sql, params)[cols]


def _cols_sql(cols: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def landed_batches(conn: Connection, kind: str) -> pd.DataFrame:
    """``source, batch_id, n`` for the kind's landed rows."""
    t = STAGING[kind]
    q = (sa.select(t.c.source, t.c.batch_id, sa.func.count().label("n")).where(t.c.state == "landed")
         .group_by(t.c.source, t.c.batch_id).order_by(t.c.source, t.c.batch_id))
    return db.read_frame(conn, q)


def read_chunks(conn: Connection, kind: str, batch_ids: list[int], size: int = CHUNK_ROWS,
                columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The landed rows of some batches in ``(batch_id, row_number)`` order, about ``size`` rows
    at a time: keyset paging within a batch, small batches gathered into one chunk."""
    t = STAGING[kind]
    cols = columns or [c.name for c in t.columns]
    sql = (f'SELECT {_cols_sql(cols)} FROM "{t.name}" '
           "WHERE batch_id = :b AND row_number > :r AND state = 'landed' ORDER BY row_number LIMIT :n")
    parts: list[pd.DataFrame] = []
    have = 0
    for b in batch_ids:
        last = -1
        while True:
            want = size - have
            df = _fetch(conn, sql, {"b": int(b), "r": int(last), "n": int(want)}, cols)
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


def row_keys(batch_id: Any, row_number: Any) -> np.ndarray:
    """One int64 per staging row (batch id in the high bits): cheap membership tests."""
    return (np.asarray(batch_id, dtype=np.int64) << 32) | np.asarray(row_number, dtype=np.int64)


def checked_columns(suite: Suite, kind: str) -> list[str]:
    """Columns the checks read: lineage, every typed (non-text) field, every column a check
    names. Text fields no check names cannot fail and are read only for quarantined rows."""
    t = STAGING[kind]
    named = {c for ch in suite.checks for c in ch.columns}
    keep = {"source", "batch_id", "row_number"} | named | {f for f, typ in suite.fields.items() if typ != "str"}
    return [c.name for c in t.columns if c.name in keep]


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


def global_checks(suite: Suite, p: dict[str, Any]) -> list[Any]:
    """Row checks that compare rows with each other (unique keys) and can run (parameters known)."""
    return [c for c in suite.row_checks
            if c.type in translate.GLOBAL_TYPES and not _has_unknown_parameter(c, p)]


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


def mark_range(conn: Connection, kind: str, batch_id: int, lo: int, hi: int,
               failed_rows: list[int] | None = None) -> None:
    """Set-based, for rows ``lo..hi`` of one batch: ``failed_rows`` (default: the rows with an
    open quarantine entry) -> ``quarantined``, the rest -> ``passed``. Only ``landed`` rows move,
    so a concurrent or repeated run changes nothing."""
    t = STAGING[kind].name
    rng = {"k": kind, "b": int(batch_id), "lo": int(lo), "hi": int(hi)}
    if failed_rows is None:
        conn.execute(sa.text(
            f'UPDATE "{t}" SET state = \'quarantined\' WHERE batch_id = :b AND row_number IN '
            f'(SELECT q.row_number FROM quarantine q WHERE q.kind = :k AND q.batch_id = :b '
            f'AND q.row_number BETWEEN :lo AND :hi AND q.status = \'open\') AND state = \'landed\''), rng)
    for ids in _in_list(failed_rows or []):
        conn.execute(sa.text(f'UPDATE "{t}" SET state = \'quarantined\' WHERE batch_id = :b '
                             f"AND row_number IN ({ids}) AND state = 'landed'"), rng)
    conn.execute(sa.text(
        f'UPDATE "{t}" SET state = \'passed\' WHERE batch_id = :b AND row_number BETWEEN :lo AND :hi '
        f'AND state = \'landed\''), rng)


class SourceCheck:
    """Accumulates one source's results over its chunks."""

    def __init__(self, kind: str, source: str, suite: Suite, p: dict[str, Any],
                 mapped: set[str] | None, n_total: int) -> None:
        self.kind, self.source, self.suite, self.p = kind, source, suite, p
        self.rows = self.failed = 0
        self.counts: dict[str, int] = {}
        self.skipped: list[str] = []
        self.ds_checks = dataset_checks(suite, p, mapped, self.skipped)
        self.ds_counts: dict[str, dict[str, int]] = {c.name: {} for c in self.ds_checks}
        self.small = n_total <= DOCS_ROWS
        # GX's dataset frame: nullity-only checks need only which values are missing.
        self.ds_cols = list(dict.fromkeys(c for ch in self.ds_checks for c in ch.columns))
        self.ds_values = {c for ch in self.ds_checks if not translate.nullity_only(ch) for c in ch.columns}
        self.ds_parts: list[pd.DataFrame] = []
        self.sample_parts: list[pd.DataFrame] = []
        self.n_sample_failed = 0
        self.rng = np.random.default_rng(zlib.crc32(f"{kind}/{source}".encode()))
        self.keep_pass = 1.0 if self.small else (DOCS_ROWS - DOCS_FAILED) / max(n_total, 1)

    def add(self, ev: Any) -> None:
        self.rows += ev.rows
        self.failed += ev.n_failed
        for k, v in ev.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        prep = ev.prepared
        for c in self.ds_checks:
            part = translate.dataset_partial(c, prep, self.p)
            acc = self.ds_counts[c.name]
            for k, v in part.items():
                acc[k] = acc.get(k, 0) + v
        if self.small:
            self.sample_parts.append(prep)
            return
        if self.ds_cols:
            self.ds_parts.append(pd.DataFrame({
                c: (prep[c] if c in self.ds_values else
                    pd.Series(np.where(prep[c].notna().to_numpy(), "x", np.array(None, dtype=object)),
                              dtype=object))
                for c in self.ds_cols}))
        fail_idx = np.flatnonzero(ev.failed)[: max(0, DOCS_FAILED - self.n_sample_failed)]
        pass_idx = np.flatnonzero(~ev.failed)
        pass_idx = pass_idx[self.rng.random(len(pass_idx)) < self.keep_pass]
        self.n_sample_failed += len(fail_idx)
        self.sample_parts.append(prep.iloc[np.sort(np.concatenate([fail_idx, pass_idx]))])

    def dataset(self) -> dict[str, dict[str, Any]]:
        return {c.name: translate.dataset_finish(c, self.ds_counts[c.name], self.p) for c in self.ds_checks}

    def top(self) -> tuple[str, int] | None:
        if not self.counts:
            return None
        name = max(self.counts, key=lambda k: (self.counts[k], k))
        return name, self.counts[name]

    def gx_jobs(self, run_name: str, as_of: datetime | None) -> list[dict[str, Any]]:
        """GX work for this source: one validation (small source) or dataset + docs sample."""
        from leadflow.quality.gxworker import make_job
        p = parameters(self.suite, as_of, self.p)
        rows = [c.name for c in self.suite.row_checks if c.name not in self.skipped]
        ds = [c.name for c in self.ds_checks]
        sample = pd.concat(self.sample_parts, ignore_index=True) if self.sample_parts else None
        base = f"{self.kind}.{self.source}"
        if sample is None:
            return []
        if self.small:
            return [make_job(self.kind, base, ds + rows, sample, p, run_name)]
        jobs = [make_job(self.kind, f"{base}.rows", rows, sample, p, run_name)]
        if ds:
            frame = (pd.concat(self.ds_parts, ignore_index=True) if self.ds_parts
                     else pd.DataFrame({"_row": np.zeros(self.rows, dtype=np.int8)}))
            jobs.insert(0, make_job(self.kind, f"{base}.dataset", ds, frame, p, run_name))
        return jobs


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


def check_source(ctx: RunContext, kind: str, source: str, batches: pd.DataFrame, suite: Suite,
                 chunk_rows: int, timings: dict[str, float]) -> SourceCheck:
    """Validate one source's landed rows chunk by chunk, in one transaction.

    Checks comparing rows with each other (unique keys) need the whole source: the chunks
    collect their key columns, the checks run once at the end, and the few rows they fail are
    read again, evaluated whole and quarantined (reasons in suite order, as in one pass)."""
    batch_ids = [int(b) for b in batches["batch_id"]]
    with ctx.engine.begin() as conn:
        p = qparams.for_source(conn, suite, kind, source, batch_ids)
        pp = parameters(suite, ctx.as_of, p)
        sc = SourceCheck(kind, source, suite, p, qparams.mapped_fields(ctx.settings, source),
                         int(batches["n"].sum()))
        glob = global_checks(suite, pp)
        key_cols = list(dict.fromkeys(["batch_id", "row_number"] + [c for g in glob for c in g.columns]))
        key_parts: list[pd.DataFrame] = []
        failed_parts: list[np.ndarray] = []
        chunks = read_chunks(conn, kind, batch_ids, chunk_rows, checked_columns(suite, kind))
        while True:
            t = time.perf_counter()
            chunk = next(chunks, None)
            timings["read"] += time.perf_counter() - t
            if chunk is None:
                break
            t = time.perf_counter()
            none = np.zeros(len(chunk), dtype=bool)
            view = _identity_view(ctx, kind, source, chunk)      # derived ids are not identity
            ev = evaluate(kind, view, ctx.as_of, p, suite=suite, dataset=False,
                          precomputed={g.name: none for g in glob})
            sc.add(ev)
            if glob:
                key_parts.append(chunk[key_cols])
                failed_parts.append(row_keys(chunk["batch_id"][ev.failed], chunk["row_number"][ev.failed]))
            timings["split"] += time.perf_counter() - t
            t = time.perf_counter()
            quarantine_failed(conn, kind, chunk, ev.failed, ev.reasons, ctx.as_of)
            t2 = time.perf_counter()
            timings["write_quarantine"] += t2 - t
            failed_at = chunk.loc[ev.failed, ["batch_id", "row_number"]]
            for b, grp in chunk.groupby("batch_id", sort=False)["row_number"]:
                mark_range(conn, kind, int(b), int(grp.iloc[0]), int(grp.iloc[-1]),
                           [int(x) for x in failed_at["row_number"][failed_at["batch_id"] == b]])
            timings["write_states"] += time.perf_counter() - t2
            del chunk, ev
        if key_parts:
            t = time.perf_counter()
            _recheck_global(conn, ctx, sc, glob, pd.concat(key_parts, ignore_index=True),
                            np.concatenate(failed_parts))
            timings["keys"] += time.perf_counter() - t
    return sc


def _recheck_global(conn: Connection, ctx: RunContext, sc: SourceCheck, glob: list[Any],
                    keys: pd.DataFrame, already: np.ndarray) -> None:
    """Run the unique-key checks over the whole source; quarantine the rows they fail."""
    kind, suite = sc.kind, sc.suite
    pp = parameters(suite, ctx.as_of, sc.p)
    prepared, _bad = translate.prepare(suite, keys, fields=list(keys.columns))
    masks = {g.name: translate.unexpected(g, prepared, pp) for g in glob}
    hit = np.logical_or.reduce(list(masks.values()))
    if not hit.any():
        return
    for name, m in masks.items():
        if m.any():
            sc.counts[name] = sc.counts.get(name, 0) + int(m.sum())
    k_all = row_keys(keys["batch_id"], keys["row_number"])
    sc.failed += int((~np.isin(k_all[hit], already)).sum())
    rows = fetch_rows(conn, kind, keys.loc[hit, ["batch_id", "row_number"]].reset_index(drop=True))
    ev = evaluate(kind, rows, ctx.as_of, sc.p, suite=suite, dataset=False,
                  precomputed={name: m[hit] for name, m in masks.items()})
    quarantine_rows(conn, kind, rows, ev.reasons, ctx.as_of)
    t = STAGING[kind].name
    for b, grp in rows.groupby("batch_id"):              # this run's rows: passed -> quarantined
        for ids in _in_list([int(x) for x in grp["row_number"]]):
            conn.execute(sa.text(f'UPDATE "{t}" SET state = \'quarantined\' WHERE batch_id = :b '
                                 f"AND row_number IN ({ids})"), {"b": int(b)})


def validate_all(ctx: RunContext, docs: bool = True, chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Validate the landed staging rows of batches dated up to the run date (later days wait);
    quarantine failures; enforce per-source thresholds.

    ``docs=False`` (or ``LEADFLOW_DATA_DOCS=0`` in the environment) skips GX and the Data Docs;
    the split and the gate do not depend on them. Returns ``rows``, ``passed``, ``quarantined``,
    ``waiting`` (landed rows of later days, left for their runs),
    ``warnings``, ``by_source``, the Data Docs path and ``timings``. Raises ``QualityGateError``
    (after quarantining, so nothing is lost) when a source's failing share is above its ``quality.fail_share``.
    """
    t_start = time.perf_counter()
    counts: dict[str, Any] = {"rows": 0, "passed": 0, "quarantined": 0, "warnings": [],
                              "by_source": {}}
    timings = {"keys": 0.0, "read": 0.0, "split": 0.0, "write_quarantine": 0.0, "write_states": 0.0}
    gate: list[str] = []
    with ctx.engine.begin() as conn:
        # A later day's rows wait, landed, for their own run: judged by this day's clock they
        # would all fail "not future" (re-runs, backfills, two dates at once).
        later = set(conn.execute(sa.select(ingest_batches.c.batch_id)
                                 .where(ingest_batches.c.business_date > ctx.run_date)).scalars())
        todo, counts["waiting"] = {}, 0
        for kind in KINDS:
            landed = landed_batches(conn, kind)
            wait = landed["batch_id"].isin(later).to_numpy(dtype=bool)
            counts["waiting"] += int(landed.loc[wait, "n"].sum())
            todo[kind] = landed.loc[~wait].reset_index(drop=True)
        for kind, landed in todo.items():
            if db.is_postgres(conn) and landed["n"].sum() >= ANALYZE_ROWS:
                # Fresh statistics after a big COPY, so the planner reads chunks by key
                # instead of combining the state index with every chunk.
                conn.execute(sa.text(f'ANALYZE "{STAGING[kind].name}"'))
    gx = None
    if docs and os.environ.get("LEADFLOW_DATA_DOCS", "1").strip().lower() not in ("0", "false", "no", "off"):
        from leadflow.quality import gxworker
        try:    # a big run starts the GX worker now: it imports GX while we read and split
            gx = gxworker.start(ctx.settings.reports_dir / "data_docs",
                                int(sum(int(b["n"].sum()) for b in todo.values())))
        except Exception as e:  # noqa: BLE001 - a report, not the gate
            counts["warnings"].append(f"data docs unavailable: {type(e).__name__}")
    verdicts: dict[str, tuple[str, dict[str, Any]]] = {}
    try:
        for kind, landed in todo.items():
            if landed.empty:
                continue
            suite = load_suite(kind)
            for source, batches in landed.groupby("source", sort=True):
                source = str(source)
                sc = check_source(ctx, kind, source, batches, suite, chunk_rows, timings)
                _report(ctx, sc, counts, gate)
                checkpoint("quality:source")
                if gx is not None:
                    t = time.perf_counter()
                    ds = sc.dataset()
                    for job in sc.gx_jobs(ctx.run_id, ctx.as_of):
                        gx.submit(job)
                        verdicts[job["label"]] = (source, ds)
                    timings["gx_submit"] = timings.get("gx_submit", 0.0) + time.perf_counter() - t
        if gx is not None:
            t = time.perf_counter()
            res = gx.finish()
            counts["warnings"].extend(_gx_outcome(res, verdicts, counts))
            timings["gx_wait"] = time.perf_counter() - t
            timings.update(res.get("timings") or {})
            timings["gx_in_worker"] = float(not isinstance(gx, gxworker.GxInline))
    finally:
        if gx is not None:
            gx.close()
    timings["total"] = time.perf_counter() - t_start
    counts["timings"] = {k: round(v, 2) for k, v in timings.items()}
    if gate:
        err = QualityGateError("quality gate failed: " + "; ".join(gate))
        err.counts = counts     # type: ignore[attr-defined]  # the failed step keeps its figures
        raise err
    return counts


def _report(ctx: RunContext, sc: SourceCheck, counts: dict[str, Any], gate: list[str]) -> None:
    """Add one source's figures, warnings and gate verdict to the step's counts."""
    n, q, source, kind = sc.rows, sc.failed, sc.source, sc.kind
    ds = sc.dataset()
    counts["rows"] += n
    counts["quarantined"] += q
    counts["passed"] += n - q
    counts["by_source"][source] = {"kind": kind, "rows": n, "passed": n - q, "quarantined": q,
                                   "expectations": dict(sc.counts),
                                   "dataset": {k: v["success"] for k, v in ds.items()}}
    th = _thresholds(ctx, source)
    share = _share(q, n)
    if share > th.fail_share:
        gate.append(_gate_line(sc, th.fail_share))
        counts.setdefault("failed_sources", []).append(source)
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


def _gx_outcome(res: dict[str, Any], verdicts: dict[str, tuple[str, dict[str, Any]]],
                counts: dict[str, Any]) -> list[str]:
    """Warnings where GX and leadflow disagree on a dataset check, or GX did not finish."""
    notes: list[str] = []
    for label, out in (res.get("results") or {}).items():
        source, ds = verdicts.get(label, ("?", {}))
        for name, r in out.items():
            if name in ds and r.get("success") != ds[name]["success"]:
                notes.append(f"source {source!r}: GX and leadflow disagree on {name}")
    for err in res.get("errors") or []:
        log.warning("data docs: %s", err)
        notes.append(f"data docs not built: {err}")
    if res.get("index"):
        counts["data_docs"] = str(res["index"])
    return notes


def _thresholds(ctx: RunContext, source: str) -> Any:
    from leadflow.config import QualityThresholds
    try:
        return ctx.settings.source(source).quality
    except Exception:  # noqa: BLE001 - a source no longer configured: defaults
        return QualityThresholds()


__all__ = ["validate_all", "read_chunks", "quarantine_rows",
           "mark_range", "record_json"]
