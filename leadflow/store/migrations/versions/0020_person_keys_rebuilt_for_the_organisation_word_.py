"""person_keys rebuilt for the organisation-word and givenfamily@ blocking keys

Issue 15's second round added blocking keys (a given or family name with the organisation's
word; names cut from a ``givenfamily@`` address). People written before carry only the old
keys, so a batch would not find them through the new ones, and an upgraded warehouse would
resolve differently from a new one. Emptying ``person_keys`` makes the next load rebuild every
person's keys first (``leadflow.identity.store.read_people_sharing_keys`` -> ``build_keys``,
in chunks, as after revision 0010).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 22:40:00

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM person_keys")


def downgrade() -> None:
    op.execute("DELETE FROM person_keys")     # the older code rebuilds its keys the same way
