"""The contact-change triggers (leadflow/store/triggers.py) stay set-based whatever came first on
the connection.

PostgreSQL caches the plan of a PL/pgSQL function's statement on its first run in a session. A
statement over transition tables planned when they held one row joins them by nested loop; kept
for a later update of 100k rows that is 10^10 comparisons (measured: the daily queue's SLA
update of 124,836 handoffs in the 2M growth bench ran for minutes on a connection whose first
handoff update was small, 1.9 s on a fresh one). Each firing must be planned for its own size.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.handoff import synthetic as syn
from leadflow.store import db
from leadflow.store.schema import contact_changes, handoffs, people

N = 3000
T0 = datetime(2026, 11, 20, 9, 0)


def _warehouse(engine: sa.Engine) -> None:
    with engine.begin() as c:
        syn.add_people(c, pd.DataFrame({"person_id": range(1, N + 1)}))
        db.bulk_insert(c, handoffs, pd.DataFrame({
            "person_id": range(1, N + 1), "cycle": 1, "owner_rep": "r1", "route_rule": "round_robin",
            "qualified_by": "threshold", "run_date": date(2026, 11, 20), "handed_off_at": T0,
            "sla_breached": False, "status": "queued"}))
        c.execute(sa.delete(contact_changes))


def _explain_nested(c: sa.Connection) -> list[str]:
    """Collect the plans PostgreSQL runs inside trigger functions from now on (auto_explain)."""
    plans: list[str] = []
    try:
        c.exec_driver_sql("LOAD 'auto_explain'")
    except sa.exc.DBAPIError as e:
        pytest.skip(f"auto_explain cannot be loaded here: {type(e.orig).__name__}")
    for s in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
              "client_min_messages = log"):
        c.exec_driver_sql(f"SET {s}")
    c.connection.driver_connection.add_notice_handler(  # type: ignore[union-attr]
        lambda d: plans.append(str(d.message_primary or "")))
    return plans


def _nested_loops_over_transition_tables(plans: list[str]) -> list[str]:
    return [p for p in plans if "Nested Loop" in p and p.count("Named Tuplestore Scan") >= 2]


def _queued(c: sa.Connection) -> set[int]:
    return {int(x) for x, in c.execute(sa.select(contact_changes.c.person_id))}


def test_a_large_update_after_small_ones_is_planned_for_its_size(engine: sa.Engine) -> None:
    _warehouse(engine)
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as c:
        # small updates first: on PostgreSQL they are the first firings on this connection
        c.execute(sa.update(handoffs).where(handoffs.c.person_id == 1).values(sla_breached=True))
        c.execute(sa.update(handoffs).where(handoffs.c.person_id == 2).values(status="accepted"))
        c.execute(sa.update(people).where(people.c.person_id == 3).values(updated_at=T0))
        c.execute(sa.update(people).where(people.c.person_id == 4).values(opt_out=True))
        assert _queued(c) == {2, 4}        # a handoff moved to accepted, a person opted out
        c.execute(sa.delete(contact_changes))
        plans: list[str] = _explain_nested(c) if pg else []
        # then large ones: every handoff breached (nothing to queue), every third one reopened
        # by moving it to 'working', every fifth person marked do-not-contact
        c.execute(sa.update(handoffs).values(sla_breached=True))
        c.execute(sa.update(handoffs).where(handoffs.c.person_id % 3 == 0).values(status="working"))
        c.execute(sa.update(people).values(updated_at=datetime(2026, 11, 21)))
        c.execute(sa.update(people).where(people.c.person_id % 5 == 0).values(do_not_contact=True))
        got = _queued(c)
        c.rollback()
    assert got == {p for p in range(1, N + 1) if p % 3 == 0 or p % 5 == 0}
    if pg:
        trigger_plans = [p for p in plans if "Named Tuplestore Scan" in p]
        assert len(trigger_plans) >= 4, plans      # each large update's trigger statement ran
        quadratic = _nested_loops_over_transition_tables(plans)
        assert quadratic == [], quadratic[0]


def test_an_existing_warehouse_takes_the_per_firing_functions_on_upgrade(blank_db_url: str) -> None:
    """A warehouse at 0022 whose functions run their statement plainly (as 0019-0022 made them)
    runs it through EXECUTE after ``leadflow init`` (revision 0023); its triggers still queue."""
    from leadflow.store import migrations, triggers
    eng = db.engine(blank_db_url)
    migrations.upgrade_to(eng, "0022")
    if eng.dialect.name == "postgresql":
        with eng.begin() as c:
            for fn, (body, _) in triggers.PG.items():      # the bodies as they were before 0023
                c.execute(sa.text(f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql "
                                  f"AS $$ BEGIN {body}; RETURN NULL; END $$"))
    db.init(eng)
    assert migrations.current(eng) == migrations.head()
    with eng.begin() as c:
        if eng.dialect.name == "postgresql":
            defs = {fn: c.execute(sa.text("SELECT pg_get_functiondef(CAST(:f AS regproc))"), {"f": fn}).scalar()
                    for fn in triggers.PG}
            assert all("EXECUTE $q$" in str(d) for d in defs.values()), defs
        assert triggers.names(c) == sorted(triggers.SQLITE)
    _warehouse(eng)
    with eng.begin() as c:
        c.execute(sa.update(handoffs).where(handoffs.c.person_id <= 10).values(status="working"))
        assert _queued(c) == set(range(1, 11))
