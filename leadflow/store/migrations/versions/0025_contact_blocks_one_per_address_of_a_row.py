"""contact_blocks: one block per address a row lists, not one per row

A CRM export may put a contact's addresses in one field ('a@x.com; b@y.com'); an opt-out on such
a row stops contact with each of them, so a row and signal may hold several blocks, one per
address hash. The unique key gains ``email_hash``; existing rows already satisfy it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 17:20:00

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact_blocks', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contact_block_row', type_='unique')
        batch_op.create_unique_constraint('uq_contact_block_row_address',
                                          ['kind', 'batch_id', 'row_number', 'signal', 'email_hash'])


def downgrade() -> None:
    with op.batch_alter_table('contact_blocks', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contact_block_row_address', type_='unique')
        batch_op.create_unique_constraint('uq_contact_block_row', ['kind', 'batch_id', 'row_number', 'signal'])
