"""order fulfilment times and feedback answers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``orders.fulfillment_status``, ``fulfilled_at`` and ``delivered_at`` (when a feedback request is
due) and the ``feedback`` table (one 0-10 answer per order, shown by ``winback status`` and the
report). See winback.rules.feedback_request and winback.feedback.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.sync.types import UtcDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('fulfillment_status', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('fulfilled_at', UtcDateTime(), nullable=True,
                                   comment='earliest seen: see winback.model.Order.fulfilled_at'))
        batch.add_column(sa.Column('delivered_at', UtcDateTime(), nullable=True))
    op.create_index('ix_orders_store_fulfilled', 'orders', ['store_key', 'fulfilled_at'], unique=False)
    op.create_table('feedback',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('order_id', sa.String(length=255), nullable=False),
    sa.Column('lower_email', sa.String(length=320), nullable=True,
              comment="the order's buyer when answered; NULL once redacted"),
    sa.Column('score', sa.Integer(), nullable=False, comment='0-10 (NPS scale); the last click wins'),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False, comment='serve: clicked on winback serve (the only source so far)'),
    sa.Column('clicks', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('first_answered_at', UtcDateTime(), nullable=False),
    sa.Column('answered_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('store_key', 'order_id', name=op.f('pk_feedback'))
    )
    op.create_index('ix_feedback_store_key_answered_at', 'feedback', ['store_key', 'answered_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_feedback_store_key_answered_at', table_name='feedback')
    op.drop_table('feedback')
    op.drop_index('ix_orders_store_fulfilled', table_name='orders')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('delivered_at')
        batch.drop_column('fulfilled_at')
        batch.drop_column('fulfillment_status')
