"""Hedge accounting entries (issue 18): journal_entries (the write path's results, lines in
the payload), posting_exceptions (a relationship in force that got no entry, and why),
accounting_period_events (periods closed and reopened; a period's state is its latest
event) and hedge_no_longer_expected (a person's record that a hedged cash flow is no
longer expected). All append-only on PostgreSQL.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
APPEND_ONLY_TABLES = ("journal_entries", "posting_exceptions", "accounting_period_events", "hedge_no_longer_expected")


def _result_columns(table: str) -> tuple[list[sa.Column[object]], list[sa.Column[object]], list[SchemaItem]]:
    """The columns every result table carries (db.base.ResultTable), and its key constraints."""
    head: list[sa.Column[object]] = [
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
    ]
    tail: list[sa.Column[object]] = [
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
    ]
    constraints: list[SchemaItem] = [
        sa.ForeignKeyConstraint(["batch_run_id"], ["batch_runs.id"], name=op.f(f"fk_{table}_batch_run_id_batch_runs")),
        sa.ForeignKeyConstraint(
            ["relationship_id"],
            ["hedge_relationships.id"],
            name=op.f(f"fk_{table}_relationship_id_hedge_relationships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("idempotency_key", name=op.f(f"uq_{table}_idempotency_key")),
    ]
    return head, tail, constraints


def upgrade() -> None:
    head, tail, constraints = _result_columns("journal_entries")
    op.create_table(
        "journal_entries",
        *head,
        sa.Column("relationship_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("reverses_key", sa.String(length=160), nullable=True),
        *tail,
        *constraints,
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index("ix_journal_entries_period", ["period"], unique=False)
        batch_op.create_index(
            "ix_journal_entries_relationship_id_posting_date", ["relationship_id", "posting_date"], unique=False
        )
    head, tail, constraints = _result_columns("posting_exceptions")
    op.create_table(
        "posting_exceptions",
        *head,
        sa.Column("relationship_id", BIG_ID, nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("details", JSON_DOC, nullable=False),
        *tail,
        *constraints,
    )
    with op.batch_alter_table("posting_exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_exceptions_as_of_date"), ["as_of_date"], unique=False)
    op.create_table(
        "accounting_period_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("second_actor", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("occurred_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_period_events")),
    )
    with op.batch_alter_table("accounting_period_events", schema=None) as batch_op:
        batch_op.create_index("ix_accounting_period_events_period_id", ["period", "id"], unique=False)
    op.create_table(
        "hedge_no_longer_expected",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("relationship_id", BIG_ID, nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["relationship_id"],
            ["hedge_relationships.id"],
            name=op.f("fk_hedge_no_longer_expected_relationship_id_hedge_relationships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedge_no_longer_expected")),
        sa.UniqueConstraint("relationship_id", name=op.f("uq_hedge_no_longer_expected_relationship_id")),
    )
    create_append_only_triggers(APPEND_ONLY_TABLES)


def downgrade() -> None:
    drop_append_only_triggers(APPEND_ONLY_TABLES)
    op.drop_table("hedge_no_longer_expected")
    with op.batch_alter_table("accounting_period_events", schema=None) as batch_op:
        batch_op.drop_index("ix_accounting_period_events_period_id")
    op.drop_table("accounting_period_events")
    with op.batch_alter_table("posting_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_exceptions_as_of_date"))
    op.drop_table("posting_exceptions")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entries_relationship_id_posting_date")
        batch_op.drop_index("ix_journal_entries_period")
    op.drop_table("journal_entries")
