"""ledger sequence position and rule variant

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

``action_ledger.anchor`` (what a rule's intent hangs on, e.g. the last order id of a lapse),
``action_ledger.sequence_step`` (0-based step of a rule's sequence) and ``action_ledger.variant``
(how the rule decided, e.g. its timing, for ``winback report`` to compare). Rules derive where a
customer is in a sequence from these (see winback.rules.sequences).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('action_ledger') as batch:
        batch.add_column(sa.Column('anchor', sa.String(length=255), nullable=True,
                                   comment='what the intent hangs on, e.g. the last order id of a lapse'))
        batch.add_column(sa.Column('sequence_step', sa.Integer(), nullable=True,
                                   comment="0-based step of the rule's sequence"))
        batch.add_column(sa.Column('variant', sa.String(length=50), nullable=True,
                                   comment='how the rule decided, e.g. its timing'))
    op.create_index('ix_action_ledger_sequence', 'action_ledger',
                    ['store_key', 'rule', 'lower_email', 'anchor'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_action_ledger_sequence', table_name='action_ledger')
    with op.batch_alter_table('action_ledger') as batch:
        batch.drop_column('variant')
        batch.drop_column('sequence_step')
        batch.drop_column('anchor')
