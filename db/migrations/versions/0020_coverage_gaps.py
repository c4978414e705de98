"""Coverage gaps of effectiveness, postings and MT5 cycles (issue 21, point 1): a planned
object with no result at its run's end is a `coverage_gaps` row (append-only).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "coverage_gaps",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", BIG_ID, nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_coverage_gaps_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_gaps")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_coverage_gaps_idempotency_key")),
    )
    with op.batch_alter_table("coverage_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_coverage_gaps_run_object", ["batch_run_id", "object_type", "object_id"], unique=False)
    create_append_only_triggers(("coverage_gaps",))


def downgrade() -> None:
    drop_append_only_triggers(("coverage_gaps",))
    op.drop_table("coverage_gaps")
