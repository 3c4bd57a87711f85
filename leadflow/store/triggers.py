"""Database triggers that queue people whose contact standing may have changed (``contact_changes``).

Every run withdraws the open handoffs of people who must not be contacted. Checking every open
handoff against every flag and block made that cost grow with the warehouse; instead the
database queues the people whose standing may have changed, whatever code path wrote the
change: a flag or address of a person, a block on an address (new or no longer released), a
record joining a person (a blocked address among its records), a handoff created or moved to
them or reopened. ``handoff.withdraw.withdraw_blocked`` checks only those people.

SQLite: row triggers. PostgreSQL: statement triggers over transition tables (set-based; a
PostgreSQL trigger's WHEN cannot hold a subquery). Their functions run the statement through
``EXECUTE``, so each firing is planned for the size of its transition tables: PL/pgSQL keeps a
plain statement's first plan for the session, and a join of the tables planned when they held
one row (a nested loop) turned a later 125k-row update into minutes (tests/test_store_triggers.py;
revision 0023 gives existing warehouses these bodies). Created once revision 0019 is in and, for
a new warehouse built in one step, right after ``create_all``; tests/test_migrations.py checks both
roads end with the same triggers. The migration runner drops them before an upgrade and creates
them after it (SQLite rebuilds a table to alter it, which triggers naming the table would break).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

OPEN = "('queued', 'accepted', 'working')"
QUEUE = "INSERT INTO contact_changes (person_id)"
BLOCKED = ("NEW.email_hash IS NOT NULL AND EXISTS (SELECT 1 FROM contact_blocks b "
           "WHERE b.email_hash = NEW.email_hash AND b.released_at IS NULL)")
BY_ADDRESS = (f"{QUEUE} SELECT person_id FROM people WHERE email_hash = NEW.email_hash; "
              f"{QUEUE} SELECT person_id FROM person_records WHERE email_hash = NEW.email_hash;")

# SQLite row triggers: name -> (table, event, WHEN condition or None, body)
SQLITE: dict[str, tuple[str, str, str | None, str]] = {
    "tr_people_contact": ("people", "AFTER UPDATE OF opt_out, do_not_contact, erased_at, email_hash",
                          "NEW.opt_out IS NOT OLD.opt_out OR NEW.do_not_contact IS NOT OLD.do_not_contact "
                          "OR NEW.erased_at IS NOT OLD.erased_at OR NEW.email_hash IS NOT OLD.email_hash",
                          f"{QUEUE} VALUES (NEW.person_id);"),
    "tr_records_contact_ins": ("person_records", "AFTER INSERT", BLOCKED, f"{QUEUE} VALUES (NEW.person_id);"),
    "tr_records_contact_upd": ("person_records", "AFTER UPDATE OF person_id, email_hash", BLOCKED,
                               f"{QUEUE} VALUES (NEW.person_id);"),
    "tr_blocks_contact_ins": ("contact_blocks", "AFTER INSERT", "NEW.released_at IS NULL", BY_ADDRESS),
    "tr_blocks_contact_upd": ("contact_blocks", "AFTER UPDATE OF released_at, email_hash", "NEW.released_at IS NULL",
                              BY_ADDRESS),
    "tr_handoffs_contact_ins": ("handoffs", "AFTER INSERT", None, f"{QUEUE} VALUES (NEW.person_id);"),
    "tr_handoffs_contact_upd": ("handoffs", "AFTER UPDATE OF person_id, status",
                                f"NEW.status IN {OPEN} AND (NEW.person_id IS NOT OLD.person_id "
                                "OR NEW.status IS NOT OLD.status)", f"{QUEUE} VALUES (NEW.person_id);"),
}

# PostgreSQL statement triggers: function -> (body, [(trigger, event, transition tables)]); each
# trigger is on its SQLite namesake's table
PG: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "lf_contact_people": (
        f"{QUEUE} SELECT n.person_id FROM lf_new n JOIN lf_old o ON o.person_id = n.person_id "
        "WHERE n.opt_out IS DISTINCT FROM o.opt_out OR n.do_not_contact IS DISTINCT FROM o.do_not_contact "
        "OR n.erased_at IS DISTINCT FROM o.erased_at OR n.email_hash IS DISTINCT FROM o.email_hash",
        [("tr_people_contact", "AFTER UPDATE", "OLD TABLE AS lf_old NEW TABLE AS lf_new")]),
    "lf_contact_records": (
        f"{QUEUE} SELECT DISTINCT n.person_id FROM lf_new n WHERE n.email_hash IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM contact_blocks b WHERE b.email_hash = n.email_hash AND b.released_at IS NULL)",
        [("tr_records_contact_ins", "AFTER INSERT", "NEW TABLE AS lf_new"),
         ("tr_records_contact_upd", "AFTER UPDATE", "NEW TABLE AS lf_new")]),
    "lf_contact_blocks": (
        f"{QUEUE} SELECT p.person_id FROM lf_new n JOIN people p ON p.email_hash = n.email_hash "
        "WHERE n.released_at IS NULL UNION SELECT r.person_id FROM lf_new n "
        "JOIN person_records r ON r.email_hash = n.email_hash WHERE n.released_at IS NULL",
        [("tr_blocks_contact_ins", "AFTER INSERT", "NEW TABLE AS lf_new"),
         ("tr_blocks_contact_upd", "AFTER UPDATE", "NEW TABLE AS lf_new")]),
    "lf_contact_handoffs_ins": (
        f"{QUEUE} SELECT DISTINCT person_id FROM lf_new",
        [("tr_handoffs_contact_ins", "AFTER INSERT", "NEW TABLE AS lf_new")]),
    "lf_contact_handoffs_upd": (
        f"{QUEUE} SELECT DISTINCT n.person_id FROM lf_new n JOIN lf_old o ON o.handoff_id = n.handoff_id "
        f"WHERE n.status IN {OPEN} AND (n.person_id <> o.person_id OR n.status IS DISTINCT FROM o.status)",
        [("tr_handoffs_contact_upd", "AFTER UPDATE", "OLD TABLE AS lf_old NEW TABLE AS lf_new")]),
}


def _table(name: str) -> str:
    return SQLITE[name][0]


def create(conn: Connection) -> None:
    """Create the contact-change triggers (and their PostgreSQL functions)."""
    if conn.dialect.name == "postgresql":
        for fn, (body, triggers) in PG.items():
            conn.execute(text(f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS "
                              f"$$ BEGIN EXECUTE $q${body}$q$; RETURN NULL; END $$"))
            for name, event, transition in triggers:
                conn.execute(text(f"CREATE TRIGGER {name} {event} ON {_table(name)} REFERENCING {transition} "
                                  f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"))
        return
    for name, (table, event, when, body) in SQLITE.items():
        conn.execute(text(f"CREATE TRIGGER {name} {event} ON {table}" + (f" WHEN {when}" if when else "")
                          + f" BEGIN {body} END"))


def drop(conn: Connection) -> None:
    """Drop the contact-change triggers (and their PostgreSQL functions), where present."""
    pg = conn.dialect.name == "postgresql"
    for name in SQLITE:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {_table(name)}" if pg else "")))
    if pg:
        for fn in PG:
            conn.execute(text(f"DROP FUNCTION IF EXISTS {fn}()"))


def names(conn: Connection) -> list[str]:
    """The contact-change triggers present (for tests and ``leadflow doctor``-style checks)."""
    if conn.dialect.name == "postgresql":
        q = "SELECT DISTINCT trigger_name FROM information_schema.triggers WHERE trigger_schema = current_schema()"
    else:
        q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return sorted(r[0] for r in conn.execute(text(q)) if r[0] in SQLITE)
