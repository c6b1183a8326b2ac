"""drop ix_orders_store_updated

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Nothing selects orders by ``updated_at`` (a resource's sync cursor lives in ``sync_cursors``, and
the stored copy of an order is found by its primary key), so the index only cost every order
written an index entry to insert or move.
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_orders_store_updated', table_name='orders')


def downgrade() -> None:
    op.create_index('ix_orders_store_updated', 'orders', ['store_key', 'updated_at'], unique=False)
