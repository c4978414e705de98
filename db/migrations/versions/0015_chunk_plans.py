"""A run's planned chunks (issue 21, point 1): batch_run_chunk_plans keeps each chunk's task,
queue and arguments as first sent. A chunk message that names no planned chunk, or other
arguments, is dead-lettered instead of counted in; a re-plan re-sends these.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_run_chunk_plans",
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=True),
        sa.Column(
            "kwargs", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_batch_run_chunk_plans_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("batch_run_id", "chunk_no", name=op.f("pk_batch_run_chunk_plans")),
    )


def downgrade() -> None:
    op.drop_table("batch_run_chunk_plans")
