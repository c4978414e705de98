"""Declarative base, constraint naming convention and the column types of every model."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, ForeignKey, Integer, MetaData, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; exact text on SQLite, whose NUMERIC is a float.

    Values come back as Decimal on both, with the scale they were stored with.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 28, scale: int = 6) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money and prices are Decimal, not {type(value).__name__}")
        if dialect.name == "sqlite":
            # The column's scale, as PostgreSQL's NUMERIC(p, s) stores it: equal values
            # are equal text, so WHERE price = :p works on SQLite too.
            return format(value.quantize(Decimal(1).scaleb(-self.scale), rounding=ROUND_HALF_EVEN), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC, aware, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps are UTC and aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")

IntPk = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]
Money = Annotated[Decimal, mapped_column(ExactDecimal(24, 2))]
Rate = Annotated[Decimal, mapped_column(ExactDecimal(24, 6))]
Quantity = Annotated[Decimal, mapped_column(ExactDecimal(24, 6))]
Sha256 = Annotated[str, mapped_column(String(64))]
Key = Annotated[str, mapped_column(String(160), unique=True)]
Timestamp = Annotated[datetime, mapped_column(UtcDateTime())]
Day = Annotated[date, mapped_column()]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ResultTable(Base):
    """A result table, written only through the write path: the columns every one carries,
    declared once. The idempotency key, the canonical payload and its hash are all the write
    path needs to tell created, existing and conflict apart; the run and the time say which
    run wrote the row, and when. A table adds its own columns; one it declares again (an
    indexed `batch_run_id`, say) is the table's declaration."""

    __abstract__ = True

    # Where the migrations have them: the row id and the key first (sort_order), then the
    # table's own columns, then (declarative puts a base's columns after a table's own)
    # payload, hash, run and time.
    id: Mapped[IntPk] = mapped_column(sort_order=-2)
    idempotency_key: Mapped[Key] = mapped_column(sort_order=-1)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    payload_sha256: Mapped[Sha256]
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"))
    created_at: Mapped[Timestamp]
