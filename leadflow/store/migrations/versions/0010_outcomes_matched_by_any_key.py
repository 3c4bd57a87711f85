"""outcomes matched by any key: outcome source_record_id and crm_id, outcomes.match_rule and crm_id

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:35:00

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_rule', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('crm_id', sa.Text(), nullable=True))
        batch_op.create_index('ix_outcomes_crm_id', ['crm_id'], unique=False)

    with op.batch_alter_table('stg_crm_outcomes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_record_id', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('crm_id', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stg_crm_outcomes', schema=None) as batch_op:
        batch_op.drop_column('crm_id')
        batch_op.drop_column('source_record_id')

    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_outcomes_crm_id')
        batch_op.drop_column('crm_id')
        batch_op.drop_column('match_rule')
