"""Effectiveness p-values keep their significant digits: NUMERIC(28, 22) instead of
(24, 6), so a p-value of 9.9e-8 is stored as such, not as 0 (SQLite keeps exact text of
the same 48 characters either way).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "effectiveness_results",
            "p_value",
            type_=sa.Numeric(28, 22),
            existing_type=sa.Numeric(24, 6),
            existing_nullable=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "effectiveness_results",
            "p_value",
            type_=sa.Numeric(24, 6),
            existing_type=sa.Numeric(28, 22),
            existing_nullable=True,
        )
