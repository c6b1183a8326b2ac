"""action ledger steps, marketing window and suppressions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The executor's bookkeeping on ``action_ledger`` (payload, per-step states, the marketing flag and
the moment an email was handed to the sender, the needs-review flag, attempts, finish time) with
an index for "marketing emails to this address since T", and the ``suppressions`` table. See
winback.rules.ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from winback.sync.types import UtcDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('action_ledger') as batch:
        batch.add_column(sa.Column('lower_email', sa.String(length=320), nullable=True))
        batch.add_column(sa.Column('payload', _JSON, nullable=True))
        batch.add_column(sa.Column('step_states', _JSON, nullable=True, comment='{step: started | done | skipped}'))
        batch.add_column(sa.Column('marketing', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column(
            'email_started_at', UtcDateTime(), nullable=True,
            comment='set and committed just before the mail is handed over',
        ))
        batch.add_column(sa.Column('needs_review', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('finished_at', UtcDateTime(), nullable=True))
    op.create_index(
        'ix_action_ledger_marketing_email', 'action_ledger', ['store_key', 'lower_email', 'email_started_at'],
        unique=False,
    )
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('store_key', sa.String(length=300), nullable=True, comment='NULL: every store in this database'),
    sa.Column('lower_email', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions'))
    )
    op.create_index('ix_suppressions_lower_email', 'suppressions', ['lower_email', 'store_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_suppressions_lower_email', table_name='suppressions')
    op.drop_table('suppressions')
    op.drop_index('ix_action_ledger_marketing_email', table_name='action_ledger')
    with op.batch_alter_table('action_ledger') as batch:
        for name in ('finished_at', 'attempts', 'needs_review', 'email_started_at', 'marketing',
                     'step_states', 'payload', 'lower_email'):
            batch.drop_column(name)
