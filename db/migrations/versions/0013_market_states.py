"""The market guard (issue 19, point 7): market_states, what it remembers of each symbol of
each account (the last bid and tick time, the recent spreads, a wide-spread episode's
start). Its events are drawdown_alerts rows (`market_gap`, `spread_wide`) and its closes
close_intents of kind `market_gap`: no change there.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import db.base

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("state", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_market_states_account_id_mt5_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_states")),
        sa.UniqueConstraint("account_id", "symbol", name=op.f("uq_market_states_account_id_symbol")),
    )


def downgrade() -> None:
    op.drop_table("market_states")
