"""contact-change trigger functions planned per firing (PostgreSQL)

The PostgreSQL functions of the contact-change triggers ran their statement as plain PL/pgSQL,
whose plan is made on the first firing of a session and kept: a join of the transition tables
planned when they held one row (a nested loop) made a later large update quadratic (the queue's
SLA update of 124,836 handoffs ran for minutes). They now run it through ``EXECUTE``, planned
for each firing's size. Nothing in the tables changes: the migration runner drops the triggers
before an upgrade and creates them, from ``leadflow/store/triggers.py``, after it, so this
revision only makes existing warehouses take the new function bodies.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 15:20:00.000000

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass     # the triggers are recreated by the migration runner after every upgrade


def downgrade() -> None:
    pass
