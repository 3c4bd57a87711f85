"""Helpers to stage rows directly (tests and the benchmark): a batch plus its ``stg_*`` rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadflow.canonical import FIELDS
from leadflow.store import db, rowstate
from leadflow.store.schema import STAGING, ingest_batches


def stage(engine: Engine, kind: str, source: str, rows: pd.DataFrame,
          loaded_at: datetime = datetime(2026, 11, 26, 8, 0), business_date: date | None = None) -> int:
    """Insert an ``ingest_batches`` row and ``rows`` as landed staging rows; returns the batch id.

    ``rows`` holds canonical columns (others are dropped); row numbers are 1..n unless given.
    The batch belongs to ``business_date`` (default: the day of ``loaded_at``), as ingest does.
    """
    with engine.begin() as conn:
        res = conn.execute(sa.insert(ingest_batches).values(
            source=source, kind=kind, uri=f"test://{source}", content_hash=uuid.uuid4().hex,
            rows_in=len(rows), rows_landed=len(rows), rows_rejected=0, status="landed",
            business_date=business_date or loaded_at.date(),
            loaded_at=loaded_at).returning(ingest_batches.c.batch_id))
        batch_id = int(res.scalar_one())
        df = rows[[c for c in rows.columns if c in FIELDS[kind] or c in ("row_number", "attributes")]].copy()
        if "row_number" not in df.columns:
            df["row_number"] = range(1, len(df) + 1)
        df["source"], df["batch_id"], df["loaded_at"], df["state"] = source, batch_id, loaded_at, "landed"
        db.bulk_insert(conn, STAGING[kind], df)
    return batch_id


def states(engine: Engine, kind: str) -> pd.Series:
    """Count of staging rows per state, as readers see it (``landed`` rows of validated batches
    are ``passed``: leadflow/store/rowstate.py)."""
    t = STAGING[kind]
    st = rowstate.state_of(t).label("state")
    df = db.read_df(engine, sa.select(st, sa.func.count().label("n")).group_by(st))
    return df.set_index("state")["n"] if not df.empty else pd.Series(dtype="int64")


# ----------------------------------------------------------------------------- crafted rows
T0 = datetime(2026, 11, 20, 10, 0)
CRAFT_PARAMS = {"known_campaign_ids": {"c1"}, "known_handoff_ids": {1}, "loaded_keys": {"loaded-key"},
                "owner_reps": {"rep1", "unassigned"}, "report_currencies": ["EUR"]}


def good_row(kind: str, i: int, source: str = "src") -> dict[str, Any]:
    """A row that passes every expectation of its kind (given ``CRAFT_PARAMS``)."""
    email = f"person{i}@example.com"
    rows: dict[str, dict[str, Any]] = {
        "inbound_leads": dict(source_record_id=f"r{i}", email=email, first_name="Ann", last_name="Lee",
                              phone="+44 20 7946 0000", company="Acme Ltd", company_domain="acme.example",
                              job_title="Head of IT", industry="Software", company_size=120, country="GB",
                              city="London", lead_source="Google", campaign_id="c1", channel="paid_search",
                              landing_url="https://acme.example/?utm_source=g", created_at=T0,
                              opt_out=False, do_not_call=False, converted=None),
        "touches": dict(source_touch_id=f"t{i}", source_record_id=f"r{i}", email=email, touch_type="form_fill",
                        occurred_at=T0, campaign_id="c1", channel="email", url="https://acme.example/form"),
        "campaign_spend": dict(campaign_id=f"c{i}", campaign_name="Spring", channel="paid_search",
                               spend_date=date(2026, 11, 20), amount=100.0, currency="EUR"),
        "crm_outcomes": dict(source_outcome_id=f"o{i}", handoff_id=1, email="person1@example.com",
                             status="accepted", reason_code=None, selling_step="approach", amount=1000.0,
                             occurred_at=T0),
        "handoff_list": dict(handoff_id=i, person_id=i, cycle=1, owner_rep="rep1", route_rule="round_robin",
                             qualified_by="threshold", score=80.0, grade="A", probability=0.5, priority=1.0,
                             email=email, first_name="Ann", last_name="Lee", company="Acme Ltd",
                             job_title="Head of IT", opt_out=False, do_not_contact=False,
                             handed_off_at=T0, sla_due_at=T0),
    }
    return {"source": source, **rows[kind]}


# Checks whose crafted break also (unavoidably) breaks another check.
SIDE_EFFECTS = {"email_no_control_chars": {"email_syntax"}, "currency_code": {"currency_is_report_currency"}}


def break_row(check: Any, row: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Row(s) derived from a good row that fail ``check`` (two rows for uniqueness checks)."""
    t, kw = check.type, check.kwargs
    col = kw.get("column")
    r = dict(row)
    rc = kw.get("row_condition")
    for c in [rc] if rc and rc.get("type") == "nullity" else rc.get("conditions", []) if rc else []:
        if c.get("type") == "nullity" and c.get("is_null", True):     # an AND of nullities: all of them
            r[c["column"]["name"]] = None
    if t == "expect_column_values_to_not_be_null":
        r[col] = None
    elif t == "expect_column_values_to_be_deliverable_email":
        r[col] = "not-an-email"
    elif t == "expect_column_values_to_not_be_in_the_future":
        r[col] = datetime(2999, 1, 1)
    elif t == "expect_column_values_to_match_regex":
        r[col] = "not-an-email" if col == "email" else "x1"
    elif t == "expect_column_values_to_not_match_regex":
        r[col] = "ab\x07c@example.com" if col == "email" else "ab\x07c"
    elif t == "expect_column_value_lengths_to_be_between":
        n = int(kw["max_value"]) + 1
        r[col] = "a" * (n - len("@example.com")) + "@example.com" if col == "email" else "a" * n
    elif t == "expect_column_values_to_be_in_set":
        vs = kw["value_set"]
        if isinstance(vs, list) and vs and isinstance(vs[0], bool):
            r[col] = not vs[0]
        elif col == "handoff_id":
            r[col] = 999999
        elif col == "email":
            r[col] = "nobody@example.com"
        elif col == "currency":
            r[col] = "USD"            # a well-formed code, not the report's
        else:
            r[col] = "bogus"
    elif t == "expect_column_values_to_not_be_in_set":
        r[col] = "loaded-key"
    elif t == "expect_column_values_to_be_between":
        lo, hi = kw.get("min_value"), kw.get("max_value")
        is_time = isinstance(row.get(col), (datetime, date))
        num = int if isinstance(row.get(col), int) else float
        if hi is not None:
            r[col] = datetime(2999, 1, 1) if is_time else num(hi) + 1
        else:
            r[col] = datetime(1900, 1, 1) if is_time else num(lo) - 1
    elif t == "expect_column_values_to_be_unique":
        return [r, {**other, col: r[col]}]
    elif t == "expect_compound_columns_to_be_unique":
        return [r, {**other, **{c: r[c] for c in kw["column_list"]}}]
    else:
        raise ValueError(f"no crafted break for {t}")
    return [r]


def crafted(kind: str, n_good: int = 3) -> tuple[pd.DataFrame, list[set[str]]]:
    """Good rows plus one broken row (pair for uniqueness) per row-level expectation and per
    typed field; returns the frame and, per row, the exact reasons it must be quarantined with.
    """
    from leadflow.quality.suites import load_suite
    suite = load_suite(kind)
    rows: list[dict[str, Any]] = []
    expect: list[set[str]] = []
    i = 0

    def nxt() -> dict[str, Any]:
        nonlocal i
        i += 1
        return good_row(kind, 1000 + i)
    for _ in range(n_good):
        rows.append(nxt())
        expect.append(set())
    for check in suite.row_checks:
        for r in break_row(check, nxt(), nxt()):
            rows.append(r)
            expect.append({check.name} | SIDE_EFFECTS.get(check.name, set()))
    for fld, typ in suite.fields.items():
        bad = {"int": "abc", "float": "1,5x", "datetime": "not a date", "date": "31/31/2020",
               "bool": "maybe"}.get(typ)
        if bad is not None:
            r = nxt()
            r[fld] = bad
            rows.append(r)
            # an unreadable value counts as missing, so a required field also fails that check
            req = {c.name for c in suite.row_checks if c.type == "expect_column_values_to_not_be_null"
                   and c.column == fld and not c.kwargs.get("row_condition")}
            expect.append({f"{fld}_type"} | req)
    return pd.DataFrame(rows), expect
