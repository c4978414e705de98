"""Settlements at maturity (issue 22, point 1; seed 004 §3.2.5, §6.4): `settlements` (the
nightly's proposal, a result of the write path, then settled by a person's order),
`settlement_exceptions` (a missing fixing), and on `journal_entries` a `contract_id` (the
settled contract of an FX_SETTLEMENT entry) with `relationship_id` nullable (a contract
never designated is settled too).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _head() -> list[sa.Column[object]]:
    return [
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
    ]


def _tail(table: str) -> list[sa.Column[object] | sa.Constraint]:
    return [
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_run_id"], ["batch_runs.id"], name=op.f(f"fk_{table}_batch_run_id_batch_runs")),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["hedge_contracts.id"], name=op.f(f"fk_{table}_contract_id_hedge_contracts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("idempotency_key", name=op.f(f"uq_{table}_idempotency_key")),
    ]


def upgrade() -> None:
    op.create_table(
        "settlements",
        *_head(),
        sa.Column("contract_id", BIG_ID, nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_amount", db.base.ExactDecimal(precision=24, scale=2), nullable=False),
        sa.Column("settled_rate", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("settled_amount", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("settled_by", sa.String(length=64), nullable=True),
        sa.Column("approver_1", sa.String(length=64), nullable=True),
        sa.Column("approver_2", sa.String(length=64), nullable=True),
        sa.Column("settled_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("journal_key", sa.String(length=160), nullable=True),
        sa.Column("release_keys", JSON_DOC, nullable=True),
        *_tail("settlements"),
        sa.UniqueConstraint("contract_id", "settlement_date", name=op.f("uq_settlements_contract_id_settlement_date")),
    )
    op.create_index(op.f("ix_settlements_settlement_date"), "settlements", ["settlement_date"], unique=False)
    op.create_table(
        "settlement_exceptions",
        *_head(),
        sa.Column("contract_id", BIG_ID, nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("details", JSON_DOC, nullable=False),
        *_tail("settlement_exceptions"),
    )
    op.create_index(op.f("ix_settlement_exceptions_as_of_date"), "settlement_exceptions", ["as_of_date"], unique=False)
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.alter_column("relationship_id", existing_type=BIG_ID, nullable=True)
        batch_op.add_column(sa.Column("contract_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_journal_entries_contract_id_hedge_contracts"), "hedge_contracts", ["contract_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_journal_entries_contract_id_hedge_contracts"), type_="foreignkey")
        batch_op.drop_column("contract_id")
        batch_op.alter_column("relationship_id", existing_type=BIG_ID, nullable=False)
    op.drop_index(op.f("ix_settlement_exceptions_as_of_date"), table_name="settlement_exceptions")
    op.drop_table("settlement_exceptions")
    op.drop_index(op.f("ix_settlements_settlement_date"), table_name="settlements")
    op.drop_table("settlements")
