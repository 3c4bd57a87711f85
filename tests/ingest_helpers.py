"""Shared bits for the ingest tests (not a test module)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadflow.store.schema import ingest_batches, quarantine, stg_inbound_leads


def lead_source(path: str = "landing", **over: Any) -> dict[str, Any]:
    src = {
        "name": "web", "owner": "ops", "kind": "inbound_leads",
        "connector": {"type": "file", "path": path, "min_age_seconds": 0},
        "mapping": {"Id": "source_record_id", "Email": "email", "Employees": "company_size",
                    "Created": "created_at", "Do Not Email": "opt_out", "Source": "lead_source"},
        "value_maps": {"*": {"Select": None}, "lead_source": {"google": "Google"}},
    }
    for k, v in over.items():
        if k == "connector":
            src["connector"] = {**src["connector"], **v}
        else:
            src[k] = v
    return src


HEADER = "Id,Email,Employees,Created,Do Not Email,Source,Notes"
ROWS = [
    "1,a@x.com,10,2026-11-01T10:00:00Z,No,google,hello",
    "2,b@x.com,200,2026-11-02,Yes,Select,",
    "3,c@x.com,,2026-11-03 08:30,No,Webinar,x",
]


def write(path: Path, text: str | bytes, age: float = 60.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    t = time.time() - age
    os.utime(path, (t, t))
    return path


def rows(engine: sa.Engine, table: sa.Table = stg_inbound_leads) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(table).order_by(table.c.batch_id, table.c.row_number))]


def batches(engine: sa.Engine) -> list[dict[str, Any]]:
    return _all(engine, ingest_batches)


def quarantined(engine: sa.Engine) -> list[dict[str, Any]]:
    return _all(engine, quarantine)


def _all(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(table))]
