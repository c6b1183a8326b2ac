"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The whole local store: stores, customers, orders and their lines, products, buyers by email,
redactions, sync cursors, quarantine and the rules' action ledger. See winback.sync.tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

from winback.sync.types import Amount, UtcDateTime

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stores',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('platform', sa.String(length=50), nullable=False),
    sa.Column('store_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('logo_url', sa.Text(), nullable=True),
    sa.Column('last_sync_started', UtcDateTime(), nullable=True),
    sa.Column('last_sync_finished', UtcDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_stores')),
    sa.UniqueConstraint('platform', 'store_id', name='uq_stores_platform_store_id')
    )
    op.create_table('action_ledger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='planned | running | done | failed | skipped'),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_ref', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_action_ledger_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_ledger')),
    sa.UniqueConstraint('store_key', 'idempotency_key', name='uq_action_ledger_idempotency_key')
    )
    op.create_index('ix_action_ledger_store_rule_status', 'action_ledger', ['store_key', 'rule', 'status'], unique=False)

    op.create_table('buyers',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('lower_email', sa.String(length=320), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False, comment='as written on the newest order'),
    sa.Column('customer_id', sa.String(length=255), nullable=True, comment='the customer row with this email, if any'),
    sa.Column('is_guest', sa.Boolean(), nullable=False, comment='no customer row, or its account is a guest'),
    sa.Column('orders_count', sa.Integer(), nullable=False, comment='all orders, real or not'),
    sa.Column('real_orders_count', sa.Integer(), nullable=False),
    sa.Column('real_amount_spent', Amount(), nullable=False),
    sa.Column('first_order_at', UtcDateTime(), nullable=True),
    sa.Column('last_order_at', UtcDateTime(), nullable=True),
    sa.Column('last_order_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_buyers_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'lower_email', name=op.f('pk_buyers'))
    )
    op.create_index('ix_buyers_store_last_order', 'buyers', ['store_key', 'last_order_at'], unique=False)

    op.create_table('customers',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('lower_email', sa.String(length=320), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('account_state', sa.String(length=16), nullable=False),
    sa.Column('consent_state', sa.String(length=16), nullable=False),
    sa.Column('consent_updated_at', UtcDateTime(), nullable=True),
    sa.Column('orders_count', sa.Integer(), nullable=True, comment='as reported by the platform'),
    sa.Column('amount_spent', Amount(), nullable=True, comment='as reported by the platform'),
    sa.Column('amount_spent_currency', sa.String(length=3), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('default_address', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('redacted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('deleted_at', UtcDateTime(), nullable=True),
    sa.Column('is_guest', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('first_order_at', UtcDateTime(), nullable=True),
    sa.Column('last_order_at', UtcDateTime(), nullable=True),
    sa.Column('real_orders_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('real_amount_spent', Amount(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_customers_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'id', name=op.f('pk_customers'))
    )
    op.create_index('ix_customers_store_last_order', 'customers', ['store_key', 'last_order_at'], unique=False)
    op.create_index('ix_customers_store_lower_email', 'customers', ['store_key', 'lower_email'], unique=False)

    op.create_table('orders',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('lower_email', sa.String(length=320), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.Column('processed_at', UtcDateTime(), nullable=True),
    sa.Column('cancelled_at', UtcDateTime(), nullable=True),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('financial_status', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', Amount(), nullable=False),
    sa.Column('current_total', Amount(), nullable=True),
    sa.Column('refunded', Amount(), nullable=True),
    sa.Column('accepts_marketing', sa.Boolean(), nullable=True),
    sa.Column('billing_address', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ordered_at', UtcDateTime(), nullable=False, comment='processed_at, else created_at'),
    sa.Column('net_total', Amount(), nullable=False, comment='current_total, else total - refunded'),
    sa.Column('counts_as_purchase', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_orders_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'id', name=op.f('pk_orders'))
    )
    op.create_index('ix_orders_store_customer', 'orders', ['store_key', 'customer_id'], unique=False)
    op.create_index('ix_orders_store_lower_email', 'orders', ['store_key', 'lower_email'], unique=False)
    op.create_index('ix_orders_store_updated', 'orders', ['store_key', 'updated_at'], unique=False)

    op.create_table('products',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('handle', sa.String(length=255), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('price', Amount(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=True),
    sa.Column('updated_at', UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_products_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'id', name=op.f('pk_products'))
    )
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('record_key', sa.String(length=300), nullable=False, comment='record_id, or sha256 of the raw payload'),
    sa.Column('record_id', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('first_seen', UtcDateTime(), nullable=False),
    sa.Column('last_seen', UtcDateTime(), nullable=False),
    sa.Column('times_seen', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('resolved', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('resolved_at', UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_quarantine_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine')),
    sa.UniqueConstraint('store_key', 'resource', 'record_key', name='uq_quarantine_record')
    )
    op.create_table('redactions',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False, comment='sha256 of store_key + lower email'),
    sa.Column('redacted_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_redactions_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'email_hash', name=op.f('pk_redactions'))
    )
    op.create_table('sync_cursors',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('cursor_updated_at', UtcDateTime(), nullable=True, comment='max updated_at committed; only moves forward'),
    sa.Column('last_run_at', UtcDateTime(), nullable=True),
    sa.Column('records_seen', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['store_key'], ['stores.key'], name=op.f('fk_sync_cursors_store_key_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'resource', name=op.f('pk_sync_cursors'))
    )
    op.create_table('order_lines',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('order_id', sa.String(length=255), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=255), nullable=True),
    sa.Column('variant_id', sa.String(length=255), nullable=True),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('current_quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', Amount(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.ForeignKeyConstraint(['store_key', 'order_id'], ['orders.store_key', 'orders.id'], name='fk_order_lines_order', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_key', 'order_id', 'id', name=op.f('pk_order_lines'))
    )
    op.create_index('ix_order_lines_store_product', 'order_lines', ['store_key', 'product_id'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_order_lines_store_product', table_name='order_lines')

    op.drop_table('order_lines')
    op.drop_table('sync_cursors')
    op.drop_table('redactions')
    op.drop_table('quarantine')
    op.drop_table('products')
    op.drop_index('ix_orders_store_updated', table_name='orders')
    op.drop_index('ix_orders_store_lower_email', table_name='orders')
    op.drop_index('ix_orders_store_customer', table_name='orders')

    op.drop_table('orders')
    op.drop_index('ix_customers_store_lower_email', table_name='customers')
    op.drop_index('ix_customers_store_last_order', table_name='customers')

    op.drop_table('customers')
    op.drop_index('ix_buyers_store_last_order', table_name='buyers')

    op.drop_table('buyers')
    op.drop_index('ix_action_ledger_store_rule_status', table_name='action_ledger')

    op.drop_table('action_ledger')
    op.drop_table('stores')
