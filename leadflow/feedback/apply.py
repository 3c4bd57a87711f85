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
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import MATCH_KEYS
from leadflow.context import RunContext
from leadflow.feedback import checks, keys, stages
from leadflow.store import db, frames, rowstate
from leadflow.store.schema import handoffs, outcomes, people, quarantine, stg_crm_outcomes

log = logging.getLogger("leadflow.feedback")
# Temporary tables of one run (staged keys and rows: see leadflow.store.frames.stage).
KEYS, HIDS, NEW = "fb_keys", "fb_handoff_ids", "fb_new_outcomes"
CONTENT = ("status", "reason_code", "selling_step", "amount", "occurred_at")


def _transition() -> Callable[..., Any]:
    """The lifecycle state machine, looked up at call time (tests replace it)."""
    from leadflow import lifecycle
    return lifecycle.transition


def _read_passed(conn: Connection) -> pd.DataFrame:
    q = (sa.select(stg_crm_outcomes).where(rowstate.passed(stg_crm_outcomes))
         .order_by(stg_crm_outcomes.c.batch_id, stg_crm_outcomes.c.row_number))
    if db.is_postgres(conn):  # concurrent runs split the rows instead of both taking them
        q = q.with_for_update(skip_locked=True)
    return db.read_frame(conn, q)


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
    return {"rows": 0, **{f"matched_by_{k}": 0 for k in MATCH_KEYS}, "loaded": 0,
            "already_loaded": 0, "quarantined": 0, "quarantine_reasons": {},
            "handoffs_updated": 0, "transitions": {}}


def apply_outcomes(ctx: RunContext) -> dict[str, Any]:
    """Load passed CRM outcomes; quarantine what cannot be trusted; update handoffs and lifecycle.

    Set-based throughout: the candidates' keys are staged into temporary tables and every read
    and write is one statement joined to them (no per-row or per-id-chunk statements).
    """
    counts = _empty_counts()
    with ctx.engine.begin() as conn:
        t0 = time.perf_counter()
        stg = _read_passed(conn)
        if stg.empty:
            return counts
        counts["rows"] = len(stg)
        cand = checks.normalise(stg)
        cand["_order"] = np.arange(len(cand))
        db.stage(conn, cand, {"source": "TEXT", "source_outcome_id": "TEXT", "handoff_id": "BIGINT",
                              "email_norm": "TEXT", "source_record_id": "TEXT", "crm_id": "TEXT"}, name=KEYS)
        extra = keys.read_links(conn, KEYS, cand)
        ppl, ho = _read_people_and_handoffs(conn, extra["person_id"])
        tick = _ticker(t0)
        tick("read")
        cand = checks.match(cand, ho, ppl, extra, keys.allowed(ctx.settings, cand["source"]),
                            keys.scopes(ctx.settings, cand["source"]))
        for k in MATCH_KEYS:
            counts[f"matched_by_{k}"] = int((cand["match_rule"] == k).sum())

        dup_masks, redelivered = _id_duplicates(conn, cand)
        masks = checks.row_masks(cand, ho, ctx.settings.feedback.recycle_reasons
                                 + ctx.settings.feedback.disqualify_reasons)
        reasons = checks.reasons_from({**dup_masks, **masks}, cand.index)
        ok = (reasons.map(len) == 0) & ~redelivered
        db.stage(conn, _ids_frame(cand.loc[ok, "matched_handoff_id"], "handoff_id"),
                 {"handoff_id": "BIGINT"}, name=HIDS, key=["handoff_id"])
        existing = _outcomes_of_staged_handoffs(conn)
        fam = checks.family_reasons(cand[ok], existing)
        reasons.loc[fam.index] = reasons.loc[fam.index] + fam
        ok = (reasons.map(len) == 0) & ~redelivered
        tick("checks")

        counts["already_loaded"] = int(redelivered.sum())
        counts["loaded"] = _load(conn, cand[ok])
        tick("load")
        bad = reasons.map(len) > 0
        counts["quarantined"] = _quarantine(conn, stg[bad.to_numpy()], reasons[bad], ctx)
        counts["quarantine_reasons"] = dict(Counter(
            r.split(":")[0] if r.startswith(("duplicate", "contradictory", "unmatched")) else r
            for rs in reasons[bad] for r in rs))
        _set_state(conn, stg, np.where(bad.to_numpy(), "quarantined", "loaded"))
        tick("quarantine+state")
        new = cand[ok]
        counts["handoffs_updated"] = _update_handoffs(conn, new["matched_handoff_id"])
        tick("handoffs")
        counts["transitions"] = _move_people(conn, ctx, new, ho)
        tick("lifecycle")
        frames.drop(conn, KEYS, HIDS, NEW)
    log.info("feedback %s: rows=%s loaded=%s already=%s quarantined=%s", ctx.run_id, counts["rows"],
             counts["loaded"], counts["already_loaded"], counts["quarantined"])
    return counts


def _ticker(t0: float) -> Callable[[str], None]:
    """Debug-log the seconds each phase took (the bench reads them at DEBUG level)."""
    last = [t0]

    def tick(phase: str) -> None:
        now = time.perf_counter()
        log.debug("feedback phase %s: %.2fs", phase, now - last[0])
        last[0] = now
    return tick


def _read_people_and_handoffs(conn: Connection, linked: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People with a candidate's email, and the handoffs named by id, of those people, or of the
    people other keys (``linked``: source record ids, CRM ids) lead to."""
    k = _keys_table()
    ppl = db.read_frame(conn, sa.select(people.c.person_id, people.c.email_norm, people.c.lifecycle_stage,
                                people.c.cycle)
                .where(people.c.email_norm.in_(sa.select(k.c.email_norm).where(k.c.email_norm.is_not(None)))))
    emailed = (sa.select(people.c.person_id)
               .where(people.c.email_norm.in_(sa.select(k.c.email_norm).where(k.c.email_norm.is_not(None)))))
    # With each handoff, its person's current stage and cycle (for the lifecycle moves).
    hsel = (sa.select(handoffs.c.handoff_id, handoffs.c.person_id, handoffs.c.cycle, handoffs.c.run_date,
                      handoffs.c.handed_off_at, people.c.lifecycle_stage,
                      people.c.cycle.label("person_cycle"), people.c.created_at.label("lead_created_at"))
            .join_from(handoffs, people, people.c.person_id == handoffs.c.person_id, isouter=True))
    ho = pd.concat([
        db.read_frame(conn, hsel.where(handoffs.c.handoff_id.in_(
            sa.select(k.c.handoff_id).where(k.c.handoff_id.is_not(None))))),
        db.read_frame(conn, hsel.where(handoffs.c.person_id.in_(emailed))),
        db.read_ids(conn, hsel, handoffs.c.person_id, sorted({int(x) for x in linked.dropna()})),
    ], ignore_index=True).drop_duplicates("handoff_id")
    return ppl, ho


def _ids_frame(values: Any, name: str) -> pd.DataFrame:
    """Distinct non-null integer ids as a one-column frame (for staging keys)."""
    arr = pd.Series(values).dropna()
    return pd.DataFrame({name: np.unique(arr.astype("int64").to_numpy())})


def _keys_table() -> sa.TableClause:
    return keys.keys_table(KEYS)


def _outcomes_of_staged_handoffs(conn: Connection) -> pd.DataFrame:
    """Every stored outcome of the handoffs staged in HIDS."""
    h = sa.table(HIDS, sa.column("handoff_id"))
    cols = [outcomes.c.handoff_id, outcomes.c.status, outcomes.c.selling_step, outcomes.c.occurred_at]
    return db.read_frame(conn, sa.select(*cols).where(outcomes.c.handoff_id.in_(sa.select(h.c.handoff_id))))


def _id_duplicates(conn: Connection, cand: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.Series]:
    """Masks of repeated outcome ids ({reason: failing rows}), and which rows are harmless
    re-deliveries. Content signatures are only built for rows whose id repeats or was loaded."""
    k = _keys_table()
    ks = sa.select(k.c.source, k.c.source_outcome_id).where(k.c.source_outcome_id.is_not(None)).distinct().subquery()
    loaded = db.read_frame(conn, sa.select(outcomes.c.source, outcomes.c.source_outcome_id, outcomes.c.handoff_id,
                                   *[outcomes.c[c] for c in CONTENT])
                   .join_from(outcomes, ks, sa.and_(outcomes.c.source == ks.c.source,
                                                    outcomes.c.source_outcome_id == ks.c.source_outcome_id)))
    keys = ["source", "source_outcome_id"]
    has_id = cand["source_outcome_id"].notna().to_numpy()
    has_prev = np.zeros(len(cand), dtype=bool)
    if len(loaded):
        loaded["sig"] = _signature(loaded, "handoff_id")
        prev = cand[keys].astype("string").merge(loaded[keys + ["sig"]].astype("string"), on=keys,
                                                 how="left")["sig"]
        prev.index = cand.index
        has_prev = prev.notna().to_numpy()
    dup_any = cand.duplicated(keys, keep=False).to_numpy() & has_id
    need = has_prev | dup_any
    sig = pd.Series(pd.NA, index=cand.index, dtype="string")
    if need.any():
        sig[need] = _signature(cand[need], "matched_handoff_id")
    same_prev = has_prev & (prev.fillna("") == sig.fillna("")).to_numpy(dtype=bool) if has_prev.any() \
        else has_prev
    # Repeats within this run: first occurrence stands; a later identical row from another
    # delivery is a re-delivery, anything else is a duplicate.
    repeat = cand.duplicated(keys, keep="first").to_numpy() & has_id
    same_in_run = np.zeros(len(cand), dtype=bool)
    if dup_any.any():
        sub = cand[dup_any].assign(sig=sig[dup_any])
        g = sub.groupby(keys)
        same = ((sub["sig"] == g["sig"].transform("first")).fillna(False).to_numpy(dtype=bool)
                & (sub["batch_id"] != g["batch_id"].transform("first")).to_numpy(dtype=bool))
        same_in_run[np.flatnonzero(dup_any)] = same
        same_in_run &= repeat
    masks = {
        "duplicate: source_outcome_id already loaded with different content": has_prev & ~same_prev,
        "duplicate: source_outcome_id delivered more than once": repeat & ~same_in_run & ~has_prev,
    }
    redelivered = pd.Series((same_prev | (same_in_run & ~has_prev)), index=cand.index)
    return masks, redelivered


def _load(conn: Connection, ok: pd.DataFrame) -> int:
    """Insert the new outcomes in one statement, idempotent on the source id."""
    if ok.empty:
        return 0
    rows = pd.DataFrame({
        "source": ok["source"], "source_outcome_id": ok["source_outcome_id"],
        "handoff_id": ok["matched_handoff_id"], "person_id": ok["person_id"],
        "status": ok["status"], "reason_code": ok["reason_code"], "selling_step": ok["selling_step"],
        "amount": ok["amount"], "occurred_at": ok["occurred_at"], "batch_id": ok["batch_id"],
        "row_number": ok["row_number"], "match_rule": ok["match_rule"],
        "crm_id": ok["crm_id"] if "crm_id" in ok else None})
    # The new outcomes stay staged: the handoff update reads their ids.
    db.stage(conn, rows, {"handoff_id": "BIGINT"}, name=NEW, key=["handoff_id"], analyze=False)
    return int(db.copy_upsert(conn, outcomes, rows, conflict=["source", "source_outcome_id"]))


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
    """Set staging states in one UPDATE joined to the staged (batch, row, state) list."""
    df = pd.DataFrame({"batch_id": stg["batch_id"].to_numpy(), "row_number": stg["row_number"].to_numpy(),
                       "state": states})
    db.copy_update(conn, stg_crm_outcomes, df, key=["batch_id", "row_number"], columns=["state"])


def _update_handoffs(conn: Connection, ids: pd.Series) -> int:
    """first_action_at and status of every handoff with new outcomes, in one UPDATE ... FROM an
    aggregate of all its outcomes (the rules of ``stages.handoff_updates``, in SQL)."""
    if ids.empty:
        return 0
    rank = " ".join(f"WHEN '{k}' THEN {v}" for k, v in stages.STATUS_RANK.items())
    label = " ".join(f"WHEN {stages.STATUS_RANK[k]} THEN '{v}'" for k, v in stages.STATUS_LABEL.items())
    agg = (f"SELECT o.handoff_id, MIN(o.occurred_at) AS first_action_at, "
           f"MAX(CASE o.status {rank} ELSE 0 END) AS top_rank FROM outcomes o "
           f"WHERE o.handoff_id IN (SELECT n.handoff_id FROM {NEW} n) GROUP BY o.handoff_id")
    sql = (f"UPDATE handoffs SET first_action_at = a.first_action_at, "
           f"status = COALESCE(CASE a.top_rank {label} END, handoffs.status) "
           f"FROM ({agg}) AS a WHERE handoffs.handoff_id = a.handoff_id")
    return int(conn.exec_driver_sql(sql).rowcount)


def _move_people(conn: Connection, ctx: RunContext, new: pd.DataFrame, ho: pd.DataFrame) -> dict[str, int]:
    if new.empty:
        return {}
    outs = new[["person_id", "matched_handoff_id", "status", "selling_step", "reason_code", "occurred_at"]]
    outs = outs.merge(ho[["handoff_id", "cycle"]].astype({"handoff_id": "Int64"}),
                      left_on="matched_handoff_id", right_on="handoff_id", how="left")
    outs["person_id"] = outs["person_id"].astype(int)
    cur = (ho.dropna(subset=["lifecycle_stage"]).drop_duplicates("person_id")
           [["person_id", "lifecycle_stage", "person_cycle"]].rename(columns={"person_cycle": "cycle"}))
    cur = cur.astype({"person_id": "int64", "cycle": "int64"})
    plan = stages.plan(outs, cur, ctx.settings.feedback.disqualify_reasons)
    transition = _transition()
    moved: Counter[str] = Counter()
    for to_stage, who in plan:
        done = transition(conn, who["person_id"].tolist(), to_stage, who["reason"].tolist(), ctx,
                          occurred_at=[t.to_pydatetime() for t in pd.to_datetime(who["occurred_at"])])
        moved[to_stage] += int(done.get("moved", len(who))) if isinstance(done, dict) else len(who)
    return dict(moved)
