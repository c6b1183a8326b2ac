"""derived_pending: customers and buyers whose derived facts a running sync has yet to recompute

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

A sync no longer recomputes derived facts page by page: each committed batch records the
customers and buyers it touched here, in the same transaction, and the sync recomputes them once
when it ends (see winback.sync.derive). A sync killed half-way leaves its rows here, so the next
one recomputes them too: nothing is forgotten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('derived_pending',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='customer | buyer'),
    sa.Column('value', sa.String(length=320), nullable=False, comment='customers.id or buyers.lower_email'),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_derived_pending_store_key_stores'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'kind', 'value', name=op.f('pk_derived_pending')),
    )


def downgrade() -> None:
    op.drop_table('derived_pending')
