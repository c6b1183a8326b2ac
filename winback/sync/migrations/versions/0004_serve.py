"""winback serve: consent change queue, webhook receipts, store connections

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02

``consent_changes`` is the durable queue of unsubscribes (and undos) waiting to reach the
platform; ``webhook_events`` dedupes deliveries by their id and holds each payload until it is
handled; ``store_connections`` remembers an ``app/uninstalled``; ``stores.postal_address`` keeps
the sender's address the platform gives (CAN-SPAM footers). See winback.rules.consent and
winback.web.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from winback.sync.types import UtcDateTime

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('postal_address', sa.Text(), nullable=True, comment='added by 0004'))
    op.create_table('consent_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('lower_email', sa.String(length=320), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False, comment='the consent the platform must end up with'),
    sa.Column('source', sa.String(length=32), nullable=False, comment='one-click | page | undo'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='pending | pushing | done | cancelled'),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=True, comment='written | already | no_customer'),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('next_attempt_at', UtcDateTime(), nullable=True),
    sa.Column('finished_at', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_changes'))
    )
    op.create_index('ix_consent_changes_status', 'consent_changes', ['status', 'store_key'], unique=False)
    op.create_table('webhook_events',
    sa.Column('source', sa.String(length=16), nullable=False, comment='shopify | ecwid'),
    sa.Column('event_id', sa.String(length=255), nullable=False, comment='X-Shopify-Webhook-Id; Ecwid eventId'),
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('payload', _JSON, nullable=True, comment='kept until handled, then dropped (it may hold personal data)'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='received | done | failed'),
    sa.Column('received_at', UtcDateTime(), nullable=False),
    sa.Column('finished_at', UtcDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('source', 'event_id', name=op.f('pk_webhook_events'))
    )
    op.create_index('ix_webhook_events_status', 'webhook_events', ['status'], unique=False)
    op.create_table('store_connections',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('disconnected_at', UtcDateTime(), nullable=True, comment='app/uninstalled received; NULL: connected'),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('store_key', name=op.f('pk_store_connections'))
    )


def downgrade() -> None:
    op.drop_table('store_connections')
    op.drop_index('ix_webhook_events_status', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_index('ix_consent_changes_status', table_name='consent_changes')
    op.drop_table('consent_changes')
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('postal_address')
