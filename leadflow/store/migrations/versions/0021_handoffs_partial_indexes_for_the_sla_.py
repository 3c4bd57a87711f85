"""handoffs: partial indexes for the SLA breach flags

The daily breach flagging scanned every handoff ever made; these hold only the handoffs that
can still breach (issue 17: the cost follows what is open, not the history).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 01:07:15.546717

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

LATE = 'NOT sla_breached AND first_action_at > sla_due_at'
WAITING = 'NOT sla_breached AND first_action_at IS NULL'


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_sla_late', ['handoff_id'], unique=False,
                              sqlite_where=sa.text(LATE), postgresql_where=sa.text(LATE))
        batch_op.create_index('ix_handoffs_sla_waiting', ['sla_due_at'], unique=False,
                              sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_sla_waiting')
        batch_op.drop_index('ix_handoffs_sla_late')
