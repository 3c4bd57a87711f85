"""Which keys an outcome may use to find its lead, and the links those keys lead through.

A CRM export cites a lead however the CRM knows it: leadflow's handoff id, the e-mail, the id the
lead had in its own source (e.g. the MQL id of the marketing system: ``source_record_id``), or
the CRM's own record id (``crm_id``: returned when leadflow pushed the lead, see
``store.crm_outbox.lookup``, or learned from an earlier outcome that carried it beside another
key). ``Source.match_on`` picks the keys per outcome source; the default is every key the
source's mapping or constants fill.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.canonical import MATCH_KEYS
from leadflow.config import Settings, Source
from leadflow.store import crm_outbox, db
from leadflow.store.schema import person_records

LINK_COLUMNS = ["key", "value", "scope", "handoff_id", "person_id"]


def keys_table(name: str) -> sa.TableClause:
    """The staged candidate keys of one feedback run (see ``apply``)."""
    return sa.table(name, sa.column("source"), sa.column("source_outcome_id"), sa.column("handoff_id"),
                    sa.column("email_norm"), sa.column("source_record_id"), sa.column("crm_id"))


def source_keys(src: Source) -> tuple[str, ...]:
    """The keys an outcome source matches on, in MATCH_KEYS order."""
    if src.match_on is not None:
        return tuple(k for k in MATCH_KEYS if k in src.match_on)
    filled = set(src.mapping.values()) | set(src.constants)
    return tuple(k for k in MATCH_KEYS if k in filled)


def _known(settings: Settings, sources: pd.Series) -> dict[str, Source]:
    names = {s.name: s for s in settings.sources}
    return {n: names[n] for n in sources.astype(str).unique() if n in names}


def allowed(settings: Settings, sources: pd.Series) -> dict[str, tuple[str, ...]]:
    """{outcome source: keys it may match on}; a source no longer configured may use any."""
    known = _known(settings, sources)
    return {n: source_keys(known[n]) if n in known else MATCH_KEYS for n in sources.astype(str).unique()}


def scopes(settings: Settings, sources: pd.Series) -> dict[str, str | None]:
    """{outcome source: the lead source whose record ids it cites (``record_source``) or None}."""
    return {n: s.record_source for n, s in _known(settings, sources).items()}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in LINK_COLUMNS})


def read_links(conn: Connection, staged: str, cand: pd.DataFrame) -> pd.DataFrame:
    """Links for the staged candidates' source record ids and CRM ids (set-based reads).

    source_record_id → the person whose landed record carried it (``person_records``; scope =
    that lead source); crm_id → the handoff the CRM outbox pushed under it, else the handoff of
    the latest loaded outcome that carried it.
    """
    k = keys_table(staged)
    pr = person_records
    parts = [_empty()]
    if "source_record_id" in cand and cand["source_record_id"].notna().any():
        rec = db.read_frame(conn, sa.select(pr.c.source, pr.c.source_record_id, pr.c.person_id).distinct()
                            .where(pr.c.source_record_id.in_(sa.select(k.c.source_record_id)
                                                             .where(k.c.source_record_id.is_not(None)))))
        parts.append(pd.DataFrame({"key": "source_record_id", "value": rec["source_record_id"],
                                   "scope": rec["source"], "handoff_id": None, "person_id": rec["person_id"]}))
    if "crm_id" in cand and cand["crm_id"].notna().any():
        both = crm_outbox.links(conn, cand["crm_id"].dropna().astype(str).unique().tolist())
        parts.append(pd.DataFrame({"key": "crm_id", "value": both["crm_id"], "scope": None,
                                   "handoff_id": both["handoff_id"], "person_id": both["person_id"]}))
    out = pd.concat([p for p in parts if len(p)] or [_empty()], ignore_index=True)
    return out.astype({"value": str}) if len(out) else out
