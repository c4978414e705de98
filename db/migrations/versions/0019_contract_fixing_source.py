"""The contract's fixing source (issue 22, point 1): `hedge_contracts.fixing_source`, where a
settlement's fixing is read (`ecb` or a configured price source); null, the default (ECB for
an FX forward, the settlement price's source for a commodity forward).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fixing_source", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.drop_column("fixing_source")
