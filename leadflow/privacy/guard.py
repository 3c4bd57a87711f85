"""The landing guard: one call on every staged chunk, before it is written.

1. URLs are stored without personal query parameters (``urls.strip_pii``).
2. Rows of an erased person (a tombstone matches their address, phone or record id) land as
   ``suppressed`` (reason ``erased``) with their personal fields blanked: the row is accounted
   for, the person is not stored again.
"""

from __future__ import annotations

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
    hit = tombstones.blocked(tombstones.identifiers(frame, id_source(src)), tomb, hash_key(settings))
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
