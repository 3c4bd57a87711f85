"""The landing guard: one call on every staged chunk, before it is written.

1. URLs are stored without personal query parameters (``urls.strip_pii``).
2. Rows of an erased person (a tombstone matches their address, phone or record id) land as
   ``suppressed`` (reason ``erased``) with their personal fields blanked: the row is accounted
   for, the person is not stored again. Their rows rejected at ingest are quarantined as
   ``{"erased": true}`` (status discarded) instead of in clear (``rejects_at_landing``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from leadflow.config import Settings, Source
from leadflow.privacy import tombstones
from leadflow.privacy.hashing import hash_key
from leadflow.privacy.urls import strip_pii

URL_COLUMNS = {"inbound_leads": ("landing_url",), "touches": ("url",)}

# Staging columns that identify or describe a person, per kind (blanked on suppression/erasure).
PII_COLUMNS = {
    "inbound_leads": ("email", "first_name", "last_name", "phone", "company", "company_domain",
                      "job_title", "city", "landing_url", "source_record_id", "attributes"),
    "touches": ("email", "source_record_id", "url", "attributes"),
    "crm_outcomes": ("email", "attributes"),
}


def id_source(src: Source) -> str:
    """The source a row's record id belongs to (a touches source names its lead source)."""
    return src.record_source or src.name


def at_landing(conn: Connection, settings: Settings, src: Source, frame: pd.DataFrame) -> pd.DataFrame:
    """The staged frame with URLs stripped and tombstoned rows suppressed and blanked."""
    for col in URL_COLUMNS.get(src.kind, ()):
        if col in frame.columns:
            frame[col] = strip_pii(frame[col])
    if src.kind not in PII_COLUMNS or frame.empty:
        return frame
    tomb = tombstones.read(conn)
    if not tomb:
        return frame
    hit = tombstones.erased_rows(frame, id_source(src), tomb, hash_key(settings))
    if hit.any():
        frame = frame.copy()
        if "state_reason" not in frame.columns:
            frame["state_reason"] = None
        frame.loc[hit, "state"] = "suppressed"
        frame.loc[hit, "state_reason"] = "erased"
        for col in PII_COLUMNS[src.kind]:
            if col in frame.columns:
                frame[col] = frame[col].astype(object)
                frame.loc[hit, col] = None
    return frame


_EMAILS = re.compile(r"[^\s@\"'<>,;:{}\[\]]+@[^\s@\"'<>,;:{}\[\]]+\.[A-Za-z]{2,}")


def _canonical(rec: Any, inverse: dict[str, str]) -> dict[str, Any]:
    """A rejected record (source column names, or one raw ``_line``) in canonical names."""
    if not isinstance(rec, dict):
        return {}
    if isinstance(rec.get("_line"), str):          # an unparseable line: any address in it
        found = _EMAILS.findall(rec["_line"])
        return {"email": found[0] if found else None, "_more": found[1:]}
    return {inverse.get(str(k), str(k)): v for k, v in rec.items()}


def rejects_at_landing(conn: Connection, settings: Settings, src: Source, rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows of an erased person are quarantined as ``{"erased": true}``, discarded,
    with reason ``erased``: accounted for, never stored in clear."""
    if rejects is None or rejects.empty or src.kind not in PII_COLUMNS:
        return rejects
    tomb = tombstones.read(conn)
    if not tomb:
        return rejects
    inverse = dict(src.mapping)
    recs = [_canonical(r, inverse) for r in rejects["record"]]
    cols = [c for c in ("email", "phone", "country", "source_record_id") if any(c in r for r in recs)]
    frame = pd.DataFrame({c: [r.get(c) if isinstance(r.get(c), str) else None for r in recs] for c in cols},
                         index=rejects.index, dtype=object)
    key = hash_key(settings)
    hit = tombstones.erased_rows(frame, id_source(src), tomb, key) if cols else \
        pd.Series(False, index=rejects.index).to_numpy()
    more = [(i, e) for i, r in zip(rejects.index, recs) for e in r.get("_more", [])]
    if more:
        extra = pd.DataFrame({"email": [e for _, e in more]}, index=[i for i, _ in more], dtype=object)
        extra_hit = tombstones.blocked(tombstones.identifiers(extra), tomb, key)
        hit = hit | rejects.index.isin(extra.index[extra_hit])
    if not hit.any():
        return rejects
    out = rejects.copy()
    out["status"] = np.where(hit, "discarded", out["status"] if "status" in out else "open")
    out["record"] = [{"erased": True} if h else r for h, r in zip(hit, out["record"])]
    out["reasons"] = [["erased"] if h else r for h, r in zip(hit, out["reasons"])]
    return out
