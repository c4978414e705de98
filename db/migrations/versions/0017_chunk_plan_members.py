"""A chunk plan keeps what the chunk must value (issue 21, point 1): batch_run_chunk_plans
gains `members`, per object type the runs of ids the plan fixed. A status change during a
run then takes effect from the next run, and the run's end compares its results with them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_run_chunk_plans") as batch:
        batch.add_column(
            sa.Column(
                "members", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_run_chunk_plans") as batch:
        batch.drop_column("members")
