"""What a close intent is for: close_intents gains `kind`: `execution` (a position open
when the account tripped; every row stored before), `reopened` (a position found open at a
later sync of the tripped account) or `pending_order` (a pending order deleted with
TRADE_ACTION_REMOVE; its ticket is the order's).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("close_intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="execution", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("close_intents", schema=None) as batch_op:
        batch_op.drop_column("kind")
