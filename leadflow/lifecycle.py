"""The lifecycle state machine: where each person stands between marketing and sales.

Stages (``leadflow.canonical.LIFECYCLE_STAGES``) form a funnel
``suspect → lead → mql → sal → sql → opportunity → customer`` plus two side exits,
``recycled`` (not now: back to marketing nurture) and ``disqualified`` (never).

Legal moves, in words:
- forward along the funnel, skipping steps if the CRM reports a later step directly
  (e.g. ``mql → opportunity``); never backward;
- any open funnel stage (suspect … opportunity) → ``recycled`` or ``disqualified``;
- ``recycled → mql`` (or a later funnel stage) starts a NEW CYCLE (``people.cycle + 1``), so
  the person can be handed off again; ``recycled → disqualified`` stays in the cycle;
- ``customer`` and ``disqualified`` are terminal;
- moving to the stage a person is already in is a no-op (so re-runs change nothing).

Every move is one row in ``lifecycle_events`` (unique per person, cycle and target stage) with the
run's logical time, the reason and the run id. The whole batch is validated before anything is
written: one illegal move rejects the call with a message naming person ids and stages (no PII).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import LIFECYCLE_STAGES
from leadflow.errors import LeadflowError
from leadflow.store import db
from leadflow.store.schema import lifecycle_events, people

FUNNEL: tuple[str, ...] = ("suspect", "lead", "mql", "sal", "sql", "opportunity", "customer")
TERMINAL: frozenset[str] = frozenset({"customer", "disqualified"})


class LifecycleError(LeadflowError):
    """An illegal or unknown lifecycle transition; names person ids and stages only."""


def _legal() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {s: set() for s in LIFECYCLE_STAGES}
    for i, s in enumerate(FUNNEL):
        if s in TERMINAL:
            continue
        out[s].update(FUNNEL[i + 1:])
        out[s].update({"recycled", "disqualified"})
    out["recycled"].update(FUNNEL[FUNNEL.index("mql"):])
    out["recycled"].add("disqualified")
    return {k: frozenset(v) for k, v in out.items()}


LEGAL: dict[str, frozenset[str]] = _legal()


def starts_new_cycle(from_stage: str, to_stage: str) -> bool:
    """Leaving ``recycled`` for the funnel again opens a new cycle (a new handoff is allowed)."""
    return from_stage == "recycled" and to_stage in FUNNEL


def is_legal(from_stage: str, to_stage: str) -> bool:
    return from_stage == to_stage or to_stage in LEGAL.get(from_stage, frozenset())


def current_stages(conn: Connection, person_ids: Sequence[int]) -> pd.DataFrame:
    """person_id, lifecycle_stage, cycle for the given people (one array filter or IN chunks)."""
    q = sa.select(people.c.person_id, people.c.lifecycle_stage, people.c.cycle)
    df = db.read_ids(conn, q, people.c.person_id, list(person_ids))
    if df.empty:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"),
                             "lifecycle_stage": pd.Series(dtype=object),
                             "cycle": pd.Series(dtype="int64")})
    return df


def _ids_text(ids: Iterable[Any], limit: int = 10) -> str:
    ids = [int(x) for x in ids]
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(str(x) for x in ids[:limit]) + more


def _aligned(value: Any, n: int, name: str) -> pd.Series:
    """A scalar or a sequence aligned with person_ids, as a Series of length n."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        s = pd.Series(list(value))
        if len(s) != n:
            raise LifecycleError(f"lifecycle transition: {name} has {len(s)} values for {n} people")
        return s
    return pd.Series([value] * n)


def plan(current: pd.DataFrame, to_stage: str) -> pd.DataFrame:
    """Classify each person's move: ``noop``, ``move`` or ``illegal``; add new cycle numbers."""
    cur = current.copy()
    legal_from = [s for s, tos in LEGAL.items() if to_stage in tos]
    cur["action"] = np.where(cur["lifecycle_stage"] == to_stage, "noop",
                             np.where(cur["lifecycle_stage"].isin(legal_from), "move", "illegal"))
    new_cycle = (cur["lifecycle_stage"] == "recycled") & (to_stage in FUNNEL)
    cur["new_cycle"] = cur["cycle"].astype("int64") + new_cycle.astype("int64")
    return cur


def transition(conn: Connection, person_ids: Sequence[int] | pd.Series, to_stage: str,
               reason: str | Sequence[str], ctx: Any, *,
               occurred_at: datetime | Sequence[datetime] | None = None) -> dict[str, int]:
    """Move people to ``to_stage`` (set-based), storing one lifecycle event per real move.

    ``reason`` and ``occurred_at`` may be scalars or sequences aligned with ``person_ids``
    (default time: ``ctx.as_of``). Illegal moves or unknown people raise LifecycleError before
    anything is written. Returns counts: moved, unchanged, new_cycle, raced (changed by a
    concurrent run between our read and our write; left as that run set them).
    """
    if to_stage not in LIFECYCLE_STAGES:
        raise LifecycleError(f"lifecycle transition: unknown stage {to_stage!r} "
                             f"(known: {', '.join(LIFECYCLE_STAGES)})")
    ids = pd.Series(list(person_ids), dtype="int64") if len(person_ids) else pd.Series([], dtype="int64")
    n = len(ids)
    if n == 0:
        return {"moved": 0, "unchanged": 0, "new_cycle": 0, "raced": 0}
    req = pd.DataFrame({"person_id": ids,
                        "reason": _aligned(reason, n, "reason").astype(str),
                        "occurred_at": _aligned(occurred_at if occurred_at is not None else ctx.as_of,
                                                n, "occurred_at")})
    if req["person_id"].duplicated().any():
        dup = req.loc[req["person_id"].duplicated(), "person_id"].unique()
        raise LifecycleError(f"lifecycle transition to {to_stage}: person id(s) given twice: "
                             f"{_ids_text(dup)}")
    cur = current_stages(conn, req["person_id"].tolist())
    missing = np.setdiff1d(req["person_id"].to_numpy(), cur["person_id"].to_numpy())
    if len(missing):
        raise LifecycleError(f"lifecycle transition to {to_stage}: unknown person id(s) "
                             f"{_ids_text(missing)}")
    p = plan(cur, to_stage).merge(req, on="person_id")
    bad = p[p["action"] == "illegal"]
    if not bad.empty:
        parts = [f"{frm} -> {to_stage} for person id(s) {_ids_text(g['person_id'])}"
                 for frm, g in bad.groupby("lifecycle_stage")]
        raise LifecycleError("illegal lifecycle transition: " + "; ".join(parts))
    moves = p[p["action"] == "move"]
    moved_ids: list[int] = []
    # Guarded update per (from stage, cycle change): only rows still in the stage we read move,
    # so a concurrent run that moved them first is never overwritten.
    for (frm, bump), g in moves.groupby([moves["lifecycle_stage"],
                                         moves["new_cycle"] != moves["cycle"]]):
        for flt in db.id_filters(conn, people.c.person_id, g["person_id"].tolist()):
            stmt = (sa.update(people)
                    .where(flt, people.c.lifecycle_stage == frm)
                    .values(lifecycle_stage=to_stage, updated_at=ctx.as_of,
                            cycle=people.c.cycle + (1 if bump else 0))
                    .returning(people.c.person_id))
            moved_ids += [int(r[0]) for r in conn.execute(stmt)]
    done = moves[moves["person_id"].isin(moved_ids)]
    events = pd.DataFrame({
        "person_id": done["person_id"].astype("int64"),
        "cycle": done["new_cycle"].astype("int64"),
        "from_stage": done["lifecycle_stage"],
        "to_stage": to_stage,
        "occurred_at": pd.to_datetime(done["occurred_at"]),
        "reason": done["reason"],
        "run_id": ctx.run_id,
    }).sort_values("person_id")
    db.copy_upsert(conn, lifecycle_events, events, conflict=["person_id", "cycle", "to_stage"])
    return {"moved": len(done), "unchanged": int((p["action"] == "noop").sum()),
            "new_cycle": int((done["new_cycle"] != done["cycle"]).sum()),
            "raced": len(moves) - len(done)}


def history(conn: Connection | sa.Engine, person_id: int) -> pd.DataFrame:
    """The stored transitions of one person, oldest first."""
    le = lifecycle_events
    return db.read_df(conn, sa.select(le.c.cycle, le.c.from_stage, le.c.to_stage, le.c.occurred_at,
                                      le.c.reason, le.c.run_id)
                      .where(le.c.person_id == int(person_id)).order_by(le.c.event_id))


__all__ = ["transition", "LifecycleError", "LEGAL", "FUNNEL", "is_legal", "starts_new_cycle",
           "current_stages", "history"]
