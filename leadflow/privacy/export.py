"""Subject access request (GDPR art. 15 / CCPA right to know): ``leadflow people export --email X``.

Everything held about the person, as one JSON document: for every table of the warehouse that
can hold personal data, the rows of the subject (``subject.find``: exact, normalised address;
their people, records, landed rows of every kind, quarantined records, touches, scores,
lifecycle, suppressions, handoffs, outcomes, merges and match reviews). Tables that never hold
personal data are listed in ``NOT_PERSONAL``. Files (lead lists, extracts) are derived from these
rows and are not repeated.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from leadflow.context import RunContext
from leadflow.privacy import subject
from leadflow.store import db
from leadflow.store.schema import STAGING, metadata

# Tables without personal data: batches, campaigns and spend, accounts (companies), runs,
# models, the email outbox (rep, date, content hash) and the tombstones (keyed hashes only).
NOT_PERSONAL = ("ingest_batches", "campaigns", "campaign_spend", "stg_campaign_spend", "accounts",
                "pipeline_runs", "models", "email_outbox", "tombstones")

_BY_PERSON = {"person_id", "person_a", "person_b", "survivor_id", "merged_id"}
# What a filler address's export shows of the rows typing it (``subject.Subject.filler``): that
# it was typed there, never the strangers' names or phones beside it.
_FILLER_COLUMNS = ("quarantine_id", "kind", "source", "batch_id", "row_number", "email", "stage", "status",
                   "loaded_at", "created_at")


def _only_the_address(df: pd.DataFrame | None) -> pd.DataFrame | None:
    return df if df is None or df.empty else df[[c for c in _FILLER_COLUMNS if c in df.columns]]


def _plain(v: Any) -> Any:
    if isinstance(v, (datetime, date, pd.Timestamp)):
        return v.isoformat()
    if isinstance(v, float) and pd.isna(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        return v.item()
    return v


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    if df is None or df.empty:
        return []
    return [{k: _plain(v) for k, v in r.items()} for r in df.astype(object).where(df.notna(), None).to_dict("records")]


def export(ctx: RunContext, email: str) -> dict[str, Any]:
    """The subject's rows from every personal table: {"person_ids", "tables": {name: [rows]}}."""
    with ctx.engine.connect() as conn:
        sub = subject.find(conn, ctx.settings, email)
        ids = sub.person_ids
        tables: dict[str, list[dict[str, Any]]] = {}
        for t in metadata.sorted_tables:
            if t.name in NOT_PERSONAL:
                continue
            kind = next((k for k, s in STAGING.items() if s is t), None)
            cut = _only_the_address if sub.filler else (lambda df: df)
            if kind is not None:
                tables[t.name] = _rows(cut(sub.staging.get(kind)))
            elif t.name == "quarantine":
                tables[t.name] = _rows(cut(sub.quarantine))
            else:
                cols = [t.c[c] for c in _BY_PERSON if c in t.c]
                if not cols or not ids:
                    tables[t.name] = []
                    continue
                q = sa.select(t).where(sa.or_(*[c.in_(ids) for c in cols]))
                pk = list(t.primary_key.columns)
                tables[t.name] = _rows(db.read_df(conn, q.order_by(*pk) if pk else q))
    return {"email_keys_matched": len(sub.email_keys), "person_ids": ids,
            "exported_at": datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat(), "tables": tables}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)
