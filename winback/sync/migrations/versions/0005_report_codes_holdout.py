"""order discount codes and ledger holdouts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

``orders.discount_codes`` (the codes a buyer used, so a redemption links to the code a rule
created) and ``action_ledger.holdout`` (a would-be recipient kept out as a control group: no
message, no code, followed like the ones sent). Both read by winback.report.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('discount_codes', _JSON, nullable=True))
    with op.batch_alter_table('action_ledger') as batch:
        batch.add_column(sa.Column('holdout', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('action_ledger') as batch:
        batch.drop_column('holdout')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('discount_codes')
