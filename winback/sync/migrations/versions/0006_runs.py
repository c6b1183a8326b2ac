"""runs: one row per client run on a worker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Who ran which client when, and how it ended, for ``winback status`` (see winback.workers.runs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from winback.sync.types import UtcDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('client', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=True,
              comment='the Celery task id; NULL for a run outside the workers'),
    sa.Column('worker', sa.String(length=255), nullable=True, comment="the worker's hostname (celery@host)"),
    sa.Column('attempt', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('started_at', UtcDateTime(), nullable=False),
    sa.Column('finished_at', UtcDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False,
              comment='running | ok | failed | retrying | busy | lost'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_index('ix_runs_store_key_started_at', 'runs', ['store_key', 'started_at'], unique=False)
    op.create_index('ix_runs_task_id', 'runs', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_runs_task_id', table_name='runs')
    op.drop_index('ix_runs_store_key_started_at', table_name='runs')
    op.drop_table('runs')
