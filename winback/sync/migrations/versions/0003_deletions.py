"""deletions (tombstones of records deleted on the platform)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

One row per record the platform reported deleted. The record's own rows are removed (see
winback.sync.deletions); this row keeps the trace and stops a stale copy (a lagging search index,
a bulk export started before the deletion) from bringing the record back. Deletion cursors live
in ``sync_cursors`` under ``{resource}.deleted``: no other schema change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.sync.types import UtcDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deletions',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('deleted_at', UtcDateTime(), nullable=False, comment='when the platform deleted it'),
    sa.Column('applied_at', UtcDateTime(), nullable=False, comment='when winback removed its copy'),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_deletions_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'resource', 'record_id', name=op.f('pk_deletions')),
    )


def downgrade() -> None:
    op.drop_table('deletions')
