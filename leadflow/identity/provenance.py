"""Which record supplied which golden-record field (for ``leadflow people show``).

The golden record is recomputed from the person's landed records with the same survivorship
vote the load step uses, so what is shown is exactly why each value is there; nothing extra is
stored that could drift from the records.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Connection

from leadflow.context import RunContext
from leadflow.identity import store
from leadflow.identity.golden import SURVIVING
from leadflow.identity.load import prepare_records, source_priority
from leadflow.identity.survivorship import vote
from leadflow.store.schema import stg_inbound_leads


def record_fields(conn: Connection, ctx: RunContext, person_id: int) -> pd.DataFrame:
    """One row per landed lead record of the person: record_id, source, email_norm (its
    address), supplied (the golden fields whose value came from it, comma-separated)."""
    raw = store.read_records_of(conn, stg_inbound_leads, [person_id])
    cols = ["record_id", "source", "email_norm", "supplied"]
    if raw.empty:
        return pd.DataFrame(columns=cols)
    rid = raw["record_id"].to_numpy()
    st = prepare_records(raw.drop(columns=["record_id"]), source_priority(ctx)).reset_index(drop=True)
    st["pkey"] = 0
    _, src = vote(st, "pkey", [c for c in SURVIVING if c in st.columns])
    won = src.iloc[0].dropna()
    supplied: dict[int, list[str]] = {i: [] for i in range(len(st))}
    for field, row in won.items():
        supplied[int(row)].append(str(field))
    return pd.DataFrame({"record_id": rid, "source": st["source"].to_numpy(),
                         "email_norm": st["email_norm"].to_numpy(),
                         "supplied": [", ".join(supplied[i]) for i in range(len(st))]})
