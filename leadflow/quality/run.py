"""The quality step: landed staging rows -> passed | quarantined, thresholds, Data Docs."""

from __future__ import annotations

import json
import logging
import zlib
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import KINDS
from leadflow.context import RunContext
from leadflow.errors import QualityGateError
from leadflow.quality import params as qparams
from leadflow.quality.frame import Evaluation, evaluate, parameters
from leadflow.quality.suites import load_suite
from leadflow.store import db
from leadflow.store.schema import STAGING, quarantine

log = logging.getLogger("leadflow.quality")

LINEAGE_COLS = ("source", "batch_id", "row_number", "loaded_at", "state")


def read_landed(conn: Connection, kind: str) -> pd.DataFrame:
    """All landed rows of a kind, raw (text query: values typed later by the translator)."""
    t = STAGING[kind]
    cols = [c.name for c in t.columns]
    col_sql = ", ".join(f'"{c}"' for c in cols)
    # Driver tuples straight into from_records: several times faster than Row objects.
    cur = conn.exec_driver_sql(f'SELECT {col_sql} FROM "{t.name}" WHERE state = \'landed\' '
                               'ORDER BY batch_id, row_number')
    rows = cur.cursor.fetchall() if cur.cursor is not None else []
    cur.close()
    return pd.DataFrame.from_records(rows, columns=cols, coerce_float=False) if rows \
        else pd.DataFrame(columns=cols)


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


def mark_states(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> None:
    """Set-based: rows with an open quality quarantine entry -> quarantined; the rest -> passed."""
    t = STAGING[kind].name
    ids = ", ".join(str(int(b)) for b in batch_ids) or "-1"
    conn.execute(sa.text(
        f'UPDATE "{t}" SET state = \'quarantined\' WHERE state = \'landed\' AND source = :src '
        f'AND batch_id IN ({ids}) AND EXISTS (SELECT 1 FROM quarantine q WHERE q.kind = :k '
        f'AND q.batch_id = "{t}".batch_id AND q.row_number = "{t}".row_number '
        f'AND q.status = \'open\')'), {"src": source, "k": kind})
    conn.execute(sa.text(
        f'UPDATE "{t}" SET state = \'passed\' WHERE state = \'landed\' AND source = :src '
        f'AND batch_id IN ({ids})'), {"src": source})


def _share(n: int, of: int) -> float:
    return n / of if of else 0.0


def _gate_line(source: str, kind: str, ev: Evaluation, limit: float) -> str:
    top = ev.top()
    top_txt = f"; most failed expectation {top[0]!r} ({top[1]} rows)" if top else ""
    return (f"source {source!r} ({kind}): {ev.n_failed} of {ev.rows} rows quarantined "
            f"({_share(ev.n_failed, ev.rows):.1%} > fail_share {limit:.0%}){top_txt}")


def _docs(gxr: Any, ctx: RunContext, kind: str, source: str, ev: Evaluation,
          p: dict[str, Any]) -> list[str]:
    """Run GX for the Data Docs; returns warnings where GX and the translators disagree."""
    from leadflow.quality.gxrun import docs_sample
    suite = load_suite(kind)
    notes: list[str] = []
    try:
        ds = tuple(c for c in suite.dataset_checks if c.name in ev.dataset)
        res = gxr.validate(suite, ds, ev.prepared, p, f"{kind}.{source}.dataset", ctx.run_id)
        for name, r in res.items():
            if r.get("success") != ev.dataset[name]["success"]:
                notes.append(f"source {source!r}: GX and leadflow disagree on {name}")
        rows = tuple(c for c in suite.row_checks if c.name not in ev.skipped)
        sample = docs_sample(ev.prepared, ev.failed, seed=zlib.crc32(f"{kind}/{source}".encode()))
        gxr.validate(suite, rows, sample, p, f"{kind}.{source}.rows", ctx.run_id)
    except Exception as e:  # noqa: BLE001 - Data Docs are a report; the split already happened
        log.warning("data docs for %s/%s not built: %s", kind, source, type(e).__name__)
        notes.append(f"data docs for {kind}/{source} not built: {type(e).__name__}")
    return notes


def validate_all(ctx: RunContext, docs: bool = True) -> dict[str, Any]:
    """Validate every landed staging row; quarantine failures; enforce per-source thresholds.

    Returns ``rows``, ``passed``, ``quarantined``, ``warnings``, ``by_source`` and the Data Docs
    path. Raises ``QualityGateError`` (after quarantining, so nothing is lost) when a source's
    failing share is above its ``quality.fail_share``.
    """
    counts: dict[str, Any] = {"rows": 0, "passed": 0, "quarantined": 0, "warnings": [],
                              "by_source": {}}
    gate: list[str] = []
    gxr = None
    if docs:
        from leadflow.quality.gxrun import GxRun
        try:
            gxr = GxRun(ctx.settings.reports_dir / "data_docs")
        except Exception as e:  # noqa: BLE001
            counts["warnings"].append(f"data docs unavailable: {type(e).__name__}")
    for kind in KINDS:
        with ctx.engine.connect() as conn:
            landed = read_landed(conn, kind)
        if landed.empty:
            continue
        suite = load_suite(kind)
        for source, sdf in landed.groupby("source", sort=True):
            source = str(source)
            sdf = sdf.reset_index(drop=True)
            batch_ids = sorted(int(b) for b in sdf["batch_id"].unique())
            with ctx.engine.begin() as conn:
                p = qparams.for_source(conn, suite, kind, source, batch_ids)
                ev = evaluate(kind, sdf, ctx.as_of, p, qparams.mapped_fields(ctx.settings, source),
                              suite=suite)
                quarantine_rows(conn, kind, sdf[ev.failed], ev.reasons, ctx.as_of)
                mark_states(conn, kind, source, batch_ids)
            n, q = ev.rows, ev.n_failed
            counts["rows"] += n
            counts["quarantined"] += q
            counts["passed"] += n - q
            counts["by_source"][source] = {"kind": kind, "rows": n, "passed": n - q, "quarantined": q,
                                           "expectations": ev.counts,
                                           "dataset": {k: v["success"] for k, v in ev.dataset.items()}}
            th = _thresholds(ctx, source)
            share = _share(q, n)
            if share > th.fail_share:
                gate.append(_gate_line(source, kind, ev, th.fail_share))
            elif share > th.warn_share:
                top = ev.top()
                counts["warnings"].append(
                    f"source {source!r} ({kind}): {q} of {n} rows quarantined ({share:.1%} > "
                    f"warn_share {th.warn_share:.0%})" + (f"; top {top[0]} ({top[1]})" if top else ""))
            for name, r in ev.dataset.items():
                if not r["success"]:
                    counts["warnings"].append(f"source {source!r} ({kind}): {name} failed "
                                              f"(observed {r['observed']}, expected {r['expected']})")
            if gxr is not None:
                counts["warnings"].extend(_docs(gxr, ctx, kind, source, ev,
                                                parameters(suite, ctx.as_of, p)))
            log.info("quality %s %s: %d rows, %d quarantined", kind, source, n, q)
    if gxr is not None:
        try:
            index = gxr.build_docs()
            if index is not None:
                counts["data_docs"] = str(index)
        except Exception as e:  # noqa: BLE001 - a report, not the gate
            counts["warnings"].append(f"data docs not built: {type(e).__name__}")
    if gate:
        raise QualityGateError("quality gate failed: " + "; ".join(gate))
    return counts


def _thresholds(ctx: RunContext, source: str) -> Any:
    from leadflow.config import QualityThresholds
    try:
        return ctx.settings.source(source).quality
    except Exception:  # noqa: BLE001 - a source no longer configured: defaults
        return QualityThresholds()


__all__ = ["validate_all", "read_landed", "quarantine_rows", "mark_states", "record_json"]
