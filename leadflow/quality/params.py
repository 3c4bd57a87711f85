"""Run-time values for the suites' ``$PARAMETER`` placeholders, read from the warehouse.

Referential checks compare against what is already there (campaigns, handoffs, keys accepted
in earlier batches); the row-count check compares against the source's recent batches.
"""

from __future__ import annotations

from statistics import median
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import KEYS, SPLIT_FIELDS
from leadflow.config import Settings
from leadflow.quality.suites import Suite
from leadflow.store import rowstate
from leadflow.store import schema as s


def _col(conn: Connection, query: Any) -> set[Any]:
    return {r[0] for r in conn.execute(query) if r[0] is not None}


def known_campaign_ids(conn: Connection) -> set[str]:
    """Campaigns in the warehouse plus campaign ids in spend landed so far (same run included)."""
    ids = _col(conn, sa.select(s.campaigns.c.campaign_id))
    st = s.stg_campaign_spend
    ids |= _col(conn, sa.select(st.c.campaign_id).where(st.c.state.in_(("landed", "passed", "loaded")))
                .distinct())
    return {str(x) for x in ids}


def _cited(kind: str, column: str, batch_ids: list[int]) -> sa.Select:
    """The values of ``column`` in the batches being validated: the only ones a check of them
    needs to look up, so the lookup follows the batch, not the warehouse."""
    st = s.STAGING[kind]
    return sa.select(st.c[column]).where(st.c.batch_id.in_(batch_ids or [-1]))


def known_handoffs(conn: Connection, batch_ids: list[int]) -> set[int]:
    """Of the handoff ids the batches' outcomes cite, those in handoffs (an outcome without a
    handoff id is matched by its other keys at feedback)."""
    return {int(x) for x in _col(conn, sa.select(s.handoffs.c.handoff_id).where(
        s.handoffs.c.handoff_id.in_(_cited("crm_outcomes", "handoff_id", batch_ids))))}


def loaded_keys(conn: Connection, kind: str, source: str, batch_ids: list[int]) -> set[str]:
    """Of the keys in the batches being validated, those of this source's rows already accepted
    in earlier batches (and in the core table); looked up by key (indexed), not read whole."""
    key = KEYS[kind][0]
    st = s.STAGING[kind]
    cited = _cited(kind, key, batch_ids)
    keys = _col(conn, sa.select(st.c[key]).where(
        st.c.source == source, st.c[key].in_(cited), sa.or_(st.c.state == "loaded", rowstate.passed(st))))
    core = {"touches": s.touches, "crm_outcomes": s.outcomes}.get(kind)
    if core is not None:
        keys |= _col(conn, sa.select(core.c[key]).where(core.c.source == source, core.c[key].in_(cited)))
    return {str(k) for k in keys}


def min_rows(conn: Connection, suite: Suite, source: str, current: list[int]) -> int | None:
    """history_ratio x median rows landed by the source's last batches (None: no history)."""
    n = int(suite.parameters.get("history_batches", 7))
    ratio = float(suite.parameters.get("history_ratio", 0.2))
    b = s.ingest_batches
    q = (sa.select(b.c.rows_landed).where(b.c.source == source, b.c.rows_landed > 0,
                                          b.c.batch_id.not_in(current or [-1]))
         .order_by(b.c.batch_id.desc()).limit(n))
    hist = [int(r[0]) for r in conn.execute(q)]
    return int(ratio * median(hist)) if hist else None


def reason_codes(suite: Suite, settings: Settings) -> list[str]:
    """Rejection reasons an outcome may carry: the suite's list and every reason leadflow.yaml
    gives a meaning to (a configured disqualification must be able to arrive)."""
    fb = settings.feedback
    return sorted({*suite.parameters.get("reason_codes", ()), *fb.recycle_reasons, *fb.disqualify_reasons})


def for_source(conn: Connection, suite: Suite, kind: str, source: str, batch_ids: list[int],
               settings: Settings) -> dict[str, Any]:
    """Every runtime parameter the kind's suite uses, for one source's landed rows."""
    p: dict[str, Any] = {"min_rows": min_rows(conn, suite, source, batch_ids)}
    if kind == "touches":
        p["known_campaign_ids"] = known_campaign_ids(conn)
        p["loaded_keys"] = loaded_keys(conn, kind, source, batch_ids)
    elif kind == "crm_outcomes":
        p["known_handoff_ids"] = known_handoffs(conn, batch_ids)
        p["reason_codes"] = reason_codes(suite, settings)
    elif kind == "campaign_spend":     # None (no report currency): the check is skipped
        p["report_currencies"] = [settings.report.currency] if settings.report.currency else None
        p["loaded_keys"] = loaded_keys(conn, kind, source, batch_ids)
    return p


def handoff_list_params(settings: Settings) -> dict[str, Any]:
    """Parameters for the outgoing ``handoff_list`` suite: the configured reps and fallback."""
    return {"owner_reps": [r.id for r in settings.routing.reps] + [settings.routing.fallback_queue]}


def mapped_fields(settings: Settings, source: str) -> set[str] | None:
    """Canonical fields a source fills (mapping targets and constants); None if unknown."""
    try:
        src = settings.source(source)
    except Exception:  # noqa: BLE001 - a source removed from the config: check everything
        return None
    fields = set(src.mapping.values()) | set(src.constants)
    fields |= {f for s in fields & set(SPLIT_FIELDS) for f in SPLIT_FIELDS[s]}
    if getattr(src, "record_id", None):
        fields |= {KEYS[src.kind][0]}
    return fields
