"""A derived cross price names the price rows it is the quotient of: settlement_prices
gains numerator_price_id and denominator_price_id (XY = EURY / EURX; null for a leg of EUR
itself and on every price read from a source). The ecb_cross rows stored before name their
legs by text in request_id ("GBPUSD = EURUSD / EURGBP (ecb rows of the same date)"): they
get the ids of the rows of that symbol, date and source.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEGS = (
    ("numerator_price_id", "fk_settlement_prices_numerator_price_id_settlement_prices"),
    ("denominator_price_id", "fk_settlement_prices_denominator_price_id_settlement_prices"),
)
#: What the ecb_cross rows of before said of their legs' source.
OLD_PROVENANCE = re.compile(r"\((?P<source>[a-z0-9_]+) rows of the same date\)$")


def upgrade() -> None:
    with op.batch_alter_table("settlement_prices", schema=None) as batch_op:
        for column, fk in LEGS:
            batch_op.add_column(sa.Column(column, BIG_ID, nullable=True))
            batch_op.create_foreign_key(fk, "settlement_prices", [column], ["id"])
    _name_the_legs_of_older_crosses()


def _name_the_legs_of_older_crosses() -> None:
    """XY = EURY / EURX: the EURY and EURX rows of the cross's date and its legs' source."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT DISTINCT symbol, request_id FROM settlement_prices "
            "WHERE source = 'ecb_cross' AND request_id IS NOT NULL"
        )
    ).all()
    for pair, request_id in found:
        match = OLD_PROVENANCE.search(request_id)
        if match is None:
            continue
        for column, leg in (("numerator_price_id", pair[3:]), ("denominator_price_id", pair[:3])):
            if leg == "EUR":
                continue
            bind.execute(
                sa.text(
                    f"UPDATE settlement_prices SET {column} = (SELECT l.id FROM settlement_prices l "
                    f"WHERE l.symbol = :leg AND l.price_date = settlement_prices.price_date AND l.source = :source) "
                    f"WHERE source = 'ecb_cross' AND symbol = :pair AND request_id = :request_id"
                ),
                {"leg": f"EUR{leg}", "source": match["source"], "pair": pair, "request_id": request_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("settlement_prices", schema=None) as batch_op:
        for column, fk in reversed(LEGS):
            batch_op.drop_constraint(fk, type_="foreignkey")
            batch_op.drop_column(column)
