"""A later release's extra migration, for tests of databases opened by a newer winback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from winback.sync import migrate

LATER_REVISION = "9999"

_SCRIPT = '''
"""a later release adds a column"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("nickname", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "nickname")
'''


def ship_later_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``open_store`` see today's migrations plus revision 9999 (adds ``customers.nickname``)."""
    scripts = tmp_path / "migrations"
    head = migrate.head_revision()
    shutil.copytree(migrate.SCRIPT_LOCATION, scripts)
    (scripts / "versions" / "9999_later.py").write_text(_SCRIPT.format(head=head))
    monkeypatch.setattr(migrate, "SCRIPT_LOCATION", scripts)
