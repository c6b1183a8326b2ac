"""birthdays: a customer's birth date, where the platform holds one

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``customers.birth_date`` (from a Shopify customer metafield or an Ecwid customer extra field named
in the store's settings) and ``birth_md`` (month * 100 + day), indexed per store, so the
``birthday`` rule finds the few customers whose birthday is near with an index lookup instead of
reading every customer (see winback.rules.birthday).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch:
        batch.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('birth_md', sa.Integer(), nullable=True,
                                   comment='month * 100 + day of birth_date (0229 kept), for the birthday rule'))
        batch.create_index('ix_customers_store_birth_md', ['store_key', 'birth_md'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch:
        batch.drop_index('ix_customers_store_birth_md')
        batch.drop_column('birth_md')
        batch.drop_column('birth_date')
