"""A position snapshot keeps the day's balance operations it saw (deposits, withdrawals,
credits: ticket, type, time, amount), so a replay of stored snapshots does not read money
paid in or out as a gain or a loss. Rows stored before have none (NULL: not recorded).

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): the table is append-only and may be large.
    op.add_column("position_snapshots", sa.Column("balance_ops", JSON_DOC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.drop_column("balance_ops")
