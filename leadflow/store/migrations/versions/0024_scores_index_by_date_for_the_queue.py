"""scores: an index by score_date for the queue's daily candidates

``scores`` keeps every day's rows; the queue reads today's, and without this index it scanned
the whole table each day (issue 17: the cost follows the day, not the history).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 19:40:00

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.create_index('ix_scores_date', ['score_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_index('ix_scores_date')
