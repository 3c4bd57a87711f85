"""The feedback step: CRM outcomes (staged, passed quality) into the warehouse, set-based.

Every passed staging row ends in exactly one place:
- ``loaded``: written to ``outcomes`` (idempotent on ``(source, source_outcome_id)``), or an
  identical re-delivery of an outcome already loaded from an earlier delivery (a no-op);
- ``quarantined``: in ``quarantine`` with ``stage='feedback'`` and its reasons (unmatched,
  duplicate, contradictory, unknown codes).
Loaded outcomes set ``handoffs.first_action_at`` / ``status`` and move people through the
lifecycle via ``leadflow.lifecycle.transition``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.context import RunContext
from leadflow.feedback import checks, stages
from leadflow.store import db
from leadflow.store.schema import handoffs, outcomes, people, quarantine, stg_crm_outcomes

log = logging.getLogger("leadflow.feedback")
CHUNK = 2000
CONTENT = ("status", "reason_code", "selling_step", "amount", "occurred_at")


def _transition() -> Callable[..., Any]:
    """The lifecycle state machine (helper E's), looked up at call time."""
    from leadflow import lifecycle
    return lifecycle.transition


def frame(conn: Connection, query: sa.Select) -> pd.DataFrame:
    """A select as a DataFrame, built column-wise (much faster than from Row objects)."""
    res = conn.execute(query)
    cols = list(res.keys())
    data = res.fetchall()
    if not data:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.DataFrame(dict(zip(cols, (list(v) for v in zip(*data)))))


def fast_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (NaN/NaT -> None) for executemany, vectorised."""
    obj = df.astype(object)
    obj = obj.where(df.notna(), None)
    return obj.to_dict("records")


def read_in(conn: Connection, select: sa.Select, column: sa.ColumnElement,
            values: Iterable[Any]) -> pd.DataFrame:
    """``select ... WHERE column IN values``, chunked so big lists stay under bind limits."""
    vals = sorted({v for v in values if v is not None and not pd.isna(v)})
    frames = [frame(conn, select.where(column.in_(vals[i:i + CHUNK])))
              for i in range(0, len(vals), CHUNK)]
    if not frames:
        return frame(conn, select.where(sa.false()))
    return pd.concat(frames, ignore_index=True)


def _read_passed(conn: Connection) -> pd.DataFrame:
    q = (sa.select(stg_crm_outcomes).where(stg_crm_outcomes.c.state == "passed")
         .order_by(stg_crm_outcomes.c.batch_id, stg_crm_outcomes.c.row_number))
    if db.is_postgres(conn):  # concurrent runs split the rows instead of both taking them
        q = q.with_for_update(skip_locked=True)
    return frame(conn, q)


def _signature(df: pd.DataFrame, hid: str) -> pd.Series:
    """A comparable text of an outcome's content (to tell a re-delivery from a conflict)."""
    amt = pd.to_numeric(df["amount"], errors="coerce").round(2).astype("string").fillna("")
    at = pd.to_datetime(df["occurred_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string").fillna("")
    parts = [df[hid].astype("string").fillna("")] + [
        df[c].astype("string").fillna("") for c in ("status", "reason_code", "selling_step")] + [amt, at]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def _record_json(stg: pd.DataFrame) -> list[Any]:
    cols = [c for c in stg.columns if c not in ("state", "loaded_at")]
    return json.loads(stg[cols].to_json(orient="records", date_format="iso"))


def _empty_counts() -> dict[str, Any]:
    return {"rows": 0, "matched_by_handoff_id": 0, "matched_by_email": 0, "loaded": 0,
            "already_loaded": 0, "quarantined": 0, "quarantine_reasons": {},
            "handoffs_updated": 0, "transitions": {}}


def apply_outcomes(ctx: RunContext) -> dict[str, Any]:
    """Load passed CRM outcomes; quarantine what cannot be trusted; update handoffs and lifecycle."""
    counts = _empty_counts()
    with ctx.engine.begin() as conn:
        stg = _read_passed(conn)
        if stg.empty:
            return counts
        counts["rows"] = len(stg)
        cand = checks.normalise(stg)
        cand["_order"] = np.arange(len(cand))

        ppl = read_in(conn, sa.select(people.c.person_id, people.c.email_norm, people.c.lifecycle_stage,
                                      people.c.cycle), people.c.email_norm, cand["email_norm"])
        hsel = sa.select(handoffs.c.handoff_id, handoffs.c.person_id, handoffs.c.cycle,
                         handoffs.c.run_date, handoffs.c.handed_off_at)
        ho = pd.concat([read_in(conn, hsel, handoffs.c.handoff_id, cand["handoff_id"].dropna().astype(int)),
                        read_in(conn, hsel, handoffs.c.person_id, ppl["person_id"])],
                       ignore_index=True).drop_duplicates("handoff_id")
        cand = checks.match(cand, ho, ppl)
        counts["matched_by_handoff_id"] = int((cand["match_rule"] == "handoff_id").sum())
        counts["matched_by_email"] = int((cand["match_rule"] == "email").sum())

        reasons, redelivered = _id_duplicates(conn, cand)
        masks = checks.row_masks(cand, ho, ctx.settings.feedback.recycle_reasons
                                 + ctx.settings.feedback.disqualify_reasons)
        row_r = checks.reasons_from(masks, cand.index)
        reasons = reasons + row_r
        ok = (reasons.map(len) == 0) & ~redelivered
        osel = sa.select(outcomes.c.handoff_id, outcomes.c.status, outcomes.c.selling_step,
                         outcomes.c.occurred_at)
        existing = read_in(conn, osel, outcomes.c.handoff_id, cand.loc[ok, "matched_handoff_id"].astype(int))
        fam = checks.family_reasons(cand[ok], existing)
        reasons.loc[fam.index] = reasons.loc[fam.index] + fam
        ok = (reasons.map(len) == 0) & ~redelivered

        counts["already_loaded"] = int(redelivered.sum())
        counts["loaded"] = _load(conn, cand[ok])
        bad = reasons.map(len) > 0
        counts["quarantined"] = _quarantine(conn, stg[bad.to_numpy()], reasons[bad], ctx)
        counts["quarantine_reasons"] = dict(Counter(r.split(":")[0] if r.startswith(("duplicate", "contradictory", "unmatched")) else r
                                                    for rs in reasons[bad] for r in rs))
        _set_state(conn, stg, np.where(bad.to_numpy(), "quarantined", "loaded"))
        new = cand[ok]
        counts["handoffs_updated"] = _update_handoffs(conn, new["matched_handoff_id"].astype(int))
        counts["transitions"] = _move_people(conn, ctx, new, ho, ppl)
    log.info("feedback %s: rows=%s loaded=%s already=%s quarantined=%s", ctx.run_id, counts["rows"],
             counts["loaded"], counts["already_loaded"], counts["quarantined"])
    return counts


def _id_duplicates(conn: Connection, cand: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Reasons for repeated outcome ids, and which rows are harmless re-deliveries."""
    reasons = pd.Series([[] for _ in range(len(cand))], index=cand.index, dtype=object)
    sig = _signature(cand, "matched_handoff_id")
    loaded = read_in(conn, sa.select(outcomes.c.source, outcomes.c.source_outcome_id, outcomes.c.handoff_id,
                                     *[outcomes.c[c] for c in CONTENT]),
                     outcomes.c.source_outcome_id, cand["source_outcome_id"].dropna())
    loaded["sig"] = _signature(loaded, "handoff_id") if len(loaded) else pd.Series(dtype="string")
    key = cand[["source", "source_outcome_id"]].astype("string")
    prev = key.merge(loaded[["source", "source_outcome_id", "sig"]].astype("string"),
                     on=["source", "source_outcome_id"], how="left")["sig"]
    prev.index = cand.index
    has_prev = prev.notna().to_numpy()
    same_prev = has_prev & (prev.fillna("") == sig.fillna("")).to_numpy(dtype=bool)
    # Repeats within this run: first occurrence stands; a later identical row from another
    # delivery is a re-delivery, anything else is a duplicate.
    first_sig = cand.assign(sig=sig).groupby(["source", "source_outcome_id"])["sig"].transform("first")
    first_batch = cand.groupby(["source", "source_outcome_id"])["batch_id"].transform("first")
    repeat = cand.duplicated(["source", "source_outcome_id"], keep="first").to_numpy() \
        & cand["source_outcome_id"].notna().to_numpy()
    same_in_run = repeat & (sig == first_sig).fillna(False).to_numpy(dtype=bool) \
        & (cand["batch_id"] != first_batch).to_numpy(dtype=bool)
    masks = {
        "duplicate: source_outcome_id already loaded with different content": has_prev & ~same_prev,
        "duplicate: source_outcome_id delivered more than once": repeat & ~same_in_run & ~has_prev,
    }
    reasons = reasons + checks.reasons_from(masks, cand.index)
    redelivered = pd.Series((same_prev | (same_in_run & ~has_prev)), index=cand.index)
    return reasons, redelivered


def _load(conn: Connection, ok: pd.DataFrame) -> int:
    if ok.empty:
        return 0
    rows = pd.DataFrame({
        "source": ok["source"], "source_outcome_id": ok["source_outcome_id"],
        "handoff_id": ok["matched_handoff_id"].astype(int), "person_id": ok["person_id"].astype(int),
        "status": ok["status"], "reason_code": ok["reason_code"], "selling_step": ok["selling_step"],
        "amount": ok["amount"], "occurred_at": ok["occurred_at"], "batch_id": ok["batch_id"],
        "row_number": ok["row_number"]})
    return db.insert_ignore(conn, outcomes, fast_records(rows), ["source", "source_outcome_id"])


def _quarantine(conn: Connection, stg: pd.DataFrame, reasons: pd.Series, ctx: RunContext) -> int:
    if stg.empty:
        return 0
    recs = _record_json(stg)
    rows = [{"source": s, "kind": "crm_outcomes", "batch_id": int(b), "row_number": int(r),
             "stage": "feedback", "record": rec, "reasons": list(rs), "status": "open",
             "created_at": ctx.as_of}
            for s, b, r, rec, rs in zip(stg["source"], stg["batch_id"], stg["row_number"], recs, reasons)]
    db.insert_ignore(conn, quarantine, rows, ["kind", "batch_id", "row_number"])
    return len(rows)


def _set_state(conn: Connection, stg: pd.DataFrame, states: np.ndarray) -> None:
    """Set staging states set-based: one UPDATE per (batch, state, chunk of row numbers)."""
    t = stg_crm_outcomes
    df = pd.DataFrame({"b": stg["batch_id"].astype(int).to_numpy(), "r": stg["row_number"].astype(int).to_numpy(),
                       "s": states})
    for (b, state), g in df.groupby(["b", "s"], sort=True):
        rows = g["r"].tolist()
        for i in range(0, len(rows), 5000):
            conn.execute(t.update().where(t.c.batch_id == int(b), t.c.row_number.in_(rows[i:i + 5000]))
                         .values(state=state))


def _update_handoffs(conn: Connection, ids: pd.Series) -> int:
    if ids.empty:
        return 0
    allo = read_in(conn, sa.select(outcomes.c.handoff_id, outcomes.c.status, outcomes.c.occurred_at),
                   outcomes.c.handoff_id, ids)
    allo["occurred_at"] = pd.to_datetime(allo["occurred_at"])
    upd = stages.handoff_updates(allo)
    stmt = (handoffs.update().where(handoffs.c.handoff_id == sa.bindparam("hid"))
            .values(first_action_at=sa.bindparam("fa"), status=sa.bindparam("st")))
    rows = [{"hid": int(h), "fa": fa.to_pydatetime(), "st": s}
            for h, fa, s in zip(upd["handoff_id"], upd["first_action_at"], upd["status"])]
    for i in range(0, len(rows), 5000):
        conn.execute(stmt, rows[i:i + 5000])
    return len(rows)


def _move_people(conn: Connection, ctx: RunContext, new: pd.DataFrame, ho: pd.DataFrame,
                 ppl: pd.DataFrame) -> dict[str, int]:
    if new.empty:
        return {}
    outs = new[["person_id", "matched_handoff_id", "status", "selling_step", "reason_code", "occurred_at"]]
    outs = outs.merge(ho[["handoff_id", "cycle"]].astype({"handoff_id": "Int64"}),
                      left_on="matched_handoff_id", right_on="handoff_id", how="left")
    outs["person_id"] = outs["person_id"].astype(int)
    cur = read_in(conn, sa.select(people.c.person_id, people.c.lifecycle_stage, people.c.cycle),
                  people.c.person_id, outs["person_id"])
    plan = stages.plan(outs, cur, ctx.settings.feedback.disqualify_reasons)
    transition = _transition()
    moved: Counter[str] = Counter()
    for to_stage, who in plan:
        done = transition(conn, who["person_id"].tolist(), to_stage, who["reason"].tolist(), ctx,
                          occurred_at=[t.to_pydatetime() for t in pd.to_datetime(who["occurred_at"])])
        moved[to_stage] += int(done.get("moved", len(who))) if isinstance(done, dict) else len(who)
    return dict(moved)
