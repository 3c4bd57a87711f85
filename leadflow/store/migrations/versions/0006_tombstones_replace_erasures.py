"""tombstones replace erasures

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:32:00.069942

The erasure list (``erasures``: plain SHA-256 of an erased address) becomes ``tombstones`` (keyed
hashes of address key, phone and record id). Existing erasures are kept as tombstones of kind
``email_sha256_legacy`` (the same hash), which landing and load still honour, so nobody erased
before the upgrade can come back.

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

LEGACY = "email_sha256_legacy"


def upgrade() -> None:
    op.create_table('tombstones',
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('value_hash', sa.Text(), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'value_hash', name='pk_tombstones')
    )
    op.execute(sa.text("INSERT INTO tombstones (kind, value_hash, erased_at) "
                       "SELECT :k, email_hash, erased_at FROM erasures").bindparams(k=LEGACY))
    op.drop_table('erasures')


def downgrade() -> None:
    op.create_table('erasures',
    sa.Column('email_hash', sa.TEXT(), nullable=False),
    sa.Column('person_id', sa.INTEGER(), nullable=True),
    sa.Column('erased_at', sa.DATETIME(), nullable=False),
    sa.PrimaryKeyConstraint('email_hash')
    )
    # only legacy hashes can go back: keyed tombstones have no plain-hash form
    op.execute(sa.text("INSERT INTO erasures (email_hash, erased_at) "
                       "SELECT value_hash, erased_at FROM tombstones WHERE kind = :k").bindparams(k=LEGACY))
    op.drop_table('tombstones')
