"""Seed people, accounts, scores and touches straight into the warehouse (tests and bench).

Only for exercising the handoff on its own: the real pipeline fills these tables through
ingest, identity and scoring.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.store import db
from leadflow.store.schema import accounts, people, scores, touches

_T0 = datetime(2026, 1, 1)


def add_accounts(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """rows: account_id, domain, and optionally owner_rep, is_customer, has_open_deal, ..."""
    df = pd.DataFrame(rows)
    df["created_at"] = _T0
    for c, v in (("is_customer", False), ("has_open_deal", False)):
        if c not in df:
            df[c] = v
        df[c] = df[c].fillna(v).astype(bool)
    db.bulk_insert(conn, accounts, df)


def add_people(conn: sa.Connection, df: pd.DataFrame) -> None:
    """df: person_id plus any people columns; sensible defaults for the required ones."""
    df = df.copy()
    defaults = {"lifecycle_stage": "lead", "cycle": 1, "opt_out": False, "do_not_contact": False,
                "is_competitor": False, "created_at": _T0, "updated_at": _T0}
    for c, v in defaults.items():
        df[c] = df[c].where(df[c].notna(), v) if c in df else v
    gen = "p" + df["person_id"].astype(str) + "@example.test"
    df["email_norm"] = df["email_norm"].where(df["email_norm"].notna(), gen) if "email_norm" in df else gen
    db.bulk_insert(conn, people, df)
    if db.is_postgres(conn):   # explicit ids: move the sequence past them
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('people', 'person_id'), "
                             "(SELECT MAX(person_id) FROM people))"))


def add_scores(conn: sa.Connection, df: pd.DataFrame, score_date: date) -> None:
    """df: person_id, score, grade and optionally probability, reasons."""
    df = df.copy()
    df["score_date"] = score_date
    for c, v in (("fit_points", 0.0), ("engagement_points", 0.0)):
        if c not in df:
            df[c] = v
    db.bulk_insert(conn, scores, df)


def add_touches(conn: sa.Connection, df: pd.DataFrame) -> None:
    """df: person_id, touch_type, occurred_at and optionally channel, campaign_id."""
    df = df.copy().reset_index(drop=True)
    if "source" not in df:
        df["source"] = "seed"
    if "source_touch_id" not in df:
        start = int(conn.execute(sa.select(sa.func.count()).select_from(touches)).scalar() or 0)
        df["source_touch_id"] = [f"t{start + i}" for i in range(len(df))]
    db.bulk_insert(conn, touches, df)


def synthetic_mqls(n: int, seed: int = 7, n_accounts: int | None = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """n qualifying people (grade A/B, score >= 70) over some accounts, for the benchmark."""
    rng = np.random.default_rng(seed)
    n_accounts = n_accounts or max(n // 3, 1)
    countries = np.array(["DE", "FR", "GB", "US", "CA", "IN", "AU", "BR", "NL", "ES"])
    acc = [{"account_id": i + 1, "domain": f"acct{i + 1}.example", "name": f"Account {i + 1}",
            "company_size": int(s), "country": str(c)}
           for i, (s, c) in enumerate(zip(rng.integers(5, 20000, n_accounts),
                                          rng.choice(countries, n_accounts)))]
    ppl = pd.DataFrame({
        "person_id": np.arange(1, n + 1),
        "first_name": "Lead", "last_name": [f"N{i}" for i in range(1, n + 1)],
        "country": rng.choice(countries, n),
        "company_size": rng.integers(5, 20000, n),
        "account_id": np.where(rng.random(n) < 0.8, rng.integers(1, n_accounts + 1, n), None),
        "job_title": "Head of Operations",
        "opt_out": rng.random(n) < 0.02,
        "do_not_contact": rng.random(n) < 0.01,
    })
    ppl["account_id"] = ppl["account_id"].astype("Int64")
    return ppl, acc
