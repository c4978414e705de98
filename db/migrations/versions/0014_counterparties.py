"""Counterparties (issue 22, point 3; seed 004 §6.1): the counterparty master data, each
contract's counterparty (nullable: contracts loaded before name none), and the nightly's
counterparty exposures (a result table of the write path, key EXPOSURE:<id>:<date>).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counterparties",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("counterparty_id", sa.String(length=64), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("lei", sa.String(length=20), nullable=False),
        sa.Column("isda_agreement_ref", sa.String(length=64), nullable=True),
        sa.Column("netting_set", sa.String(length=64), nullable=True),
        sa.Column("credit_limit", db.base.ExactDecimal(precision=24, scale=2), nullable=False),
        sa.Column("limit_currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_instructions_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counterparties")),
        sa.UniqueConstraint("counterparty_id", name=op.f("uq_counterparties_counterparty_id")),
        sa.UniqueConstraint("lei", name=op.f("uq_counterparties_lei")),
        sa.UniqueConstraint("netting_set", name=op.f("uq_counterparties_netting_set")),
    )
    op.create_table(
        "counterparty_exposures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("counterparty_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("netting_set", sa.String(length=64), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("net_mtm", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("exposure", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("credit_limit", db.base.ExactDecimal(precision=24, scale=2), nullable=False),
        sa.Column("limit_currency", sa.String(length=3), nullable=False),
        sa.Column("utilisation", db.base.ExactDecimal(precision=24, scale=4), nullable=True),
        sa.Column("headroom", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_counterparty_exposures_batch_run_id_batch_runs")
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["counterparties.id"],
            name=op.f("fk_counterparty_exposures_counterparty_id_counterparties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counterparty_exposures")),
        sa.UniqueConstraint(
            "counterparty_id", "as_of_date", name=op.f("uq_counterparty_exposures_counterparty_id_as_of_date")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_counterparty_exposures_idempotency_key")),
    )
    with op.batch_alter_table("counterparty_exposures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counterparty_exposures_as_of_date"), ["as_of_date"], unique=False)

    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counterparty_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_hedge_contracts_counterparty_id"), ["counterparty_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_hedge_contracts_counterparty_id_counterparties"),
            "counterparties",
            ["counterparty_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_hedge_contracts_counterparty_id_counterparties"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_hedge_contracts_counterparty_id"))
        batch_op.drop_column("counterparty_id")

    with op.batch_alter_table("counterparty_exposures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counterparty_exposures_as_of_date"))

    op.drop_table("counterparty_exposures")
    op.drop_table("counterparties")
