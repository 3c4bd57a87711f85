"""The run context every step receives: configuration, warehouse and the logical time.

Steps never call ``now()``: the logical time is derived from the run date (the data
interval), so re-running a day reproduces exactly the same result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from leadflow import config as cfg
from leadflow.store import db


@dataclass
class RunContext:
    settings: cfg.Settings
    engine: Engine
    run_date: date
    run_id: str
    job: str = "cli"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def as_of(self) -> datetime:
        """Logical 'now' of the run: the end of the run date (naive UTC)."""
        return datetime.combine(self.run_date + timedelta(days=1), time.min) - timedelta(seconds=1)

    @property
    def day_start(self) -> datetime:
        return datetime.combine(self.run_date, time.min)


def make_run_id(job: str, run_date: date) -> str:
    """Deterministic per job and day, so a retry or re-run writes under the same id."""
    return f"{job}:{run_date.isoformat()}"


def open_context(config_path: str | None = None, run_date: date | None = None, *,
                 job: str = "cli", run_id: str | None = None, init: bool = False) -> RunContext:
    """Load config, connect to the warehouse (and check it is ready) and build a context."""
    settings = cfg.load(config_path)
    eng = db.engine(settings.database_url)
    if init:
        db.init(eng)
    else:
        db.require_schema(eng)
    d = run_date or date.today()
    return RunContext(settings, eng, d, run_id or make_run_id(job, d), job)


def new_id() -> str:
    return uuid.uuid4().hex[:12]
