"""Independent price verification (issue 22, point 4; seed 004 §3.2.3): price_variances
records each D-1 price the pricing variance control flagged (both prices, the variance, the
threshold, whether it blocks valuation); price_decisions records a person's acceptance or
replacement of one, from a price-decisions file.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "price_variances",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("price_id", ID, nullable=False),
        sa.Column("verification_price_id", ID, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("price_date", sa.Date(), nullable=False),
        sa.Column("price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("verification_price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("variance", db.base.ExactDecimal(precision=24, scale=10), nullable=False),
        sa.Column("threshold", db.base.ExactDecimal(precision=24, scale=10), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("batch_run_id", ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_price_variances_batch_run_id_batch_runs")
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["settlement_prices.id"], name=op.f("fk_price_variances_price_id_settlement_prices")
        ),
        sa.ForeignKeyConstraint(
            ["verification_price_id"],
            ["settlement_prices.id"],
            name=op.f("fk_price_variances_verification_price_id_settlement_prices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_variances")),
        sa.UniqueConstraint("price_id", name=op.f("uq_price_variances_price_id")),
    )
    op.create_table(
        "price_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("price_variance_id", ID, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("replacement_price_id", ID, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("file_name", sa.String(length=512), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("decided_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_variance_id"],
            ["price_variances.id"],
            name=op.f("fk_price_decisions_price_variance_id_price_variances"),
        ),
        sa.ForeignKeyConstraint(
            ["replacement_price_id"],
            ["settlement_prices.id"],
            name=op.f("fk_price_decisions_replacement_price_id_settlement_prices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_decisions")),
        sa.UniqueConstraint("price_variance_id", name=op.f("uq_price_decisions_price_variance_id")),
    )


def downgrade() -> None:
    op.drop_table("price_decisions")
    op.drop_table("price_variances")
