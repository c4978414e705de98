"""The pricing variance control's state (core.price_checks; migration 0016): the flagged
prices (price_variances) and the decisions people made on them (price_decisions). How
valuation consults them is db.prices.with_verification."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core import keys
from core.canonical import normalise_decimal
from core.price_checks import MANUAL_SOURCE, Decision, PriceVariance
from core.price_decisions import PriceDecisionRow
from core.values import Price
from db.models import PriceDecision, SettlementPrice
from db.models import PriceVariance as PriceVarianceRow
from db.prices import price_value
from db.writepath import result_row, write_results


class Flag(StrEnum):
    """What recording a variance found: a new flag, one still awaiting its decision, or one decided."""

    NEW = "new"
    OPEN = "open"
    DECIDED = "decided"


def prices_of_sources(session: Session, wanted: Mapping[str, tuple[date, str]]) -> dict[str, Price]:
    """symbol -> the price of that date from that source (the verification prices)."""
    if not wanted:
        return {}
    stmt = select(SettlementPrice).where(
        or_(
            *(
                and_(SettlementPrice.symbol == s, SettlementPrice.price_date == d, SettlementPrice.source == src)
                for s, (d, src) in sorted(wanted.items())
            )
        )
    )
    return {r.symbol: price_value(r) for r in session.scalars(stmt)}


def record_variance(
    session: Session, found: PriceVariance, *, blocked: bool, batch_run_id: int | None, now: datetime
) -> Flag:
    """A flagged price, once: a price flagged before keeps its first record (and its blocking)."""
    stored = session.scalars(select(PriceVarianceRow).where(PriceVarianceRow.price_id == found.price.id)).first()
    if stored is not None:
        decided = session.scalar(select(PriceDecision.id).where(PriceDecision.price_variance_id == stored.id))
        return Flag.OPEN if decided is None else Flag.DECIDED
    session.add(
        PriceVarianceRow(
            price_id=found.price.id,
            verification_price_id=found.verification.id,
            symbol=found.symbol,
            price_date=found.price_date,
            price=found.price.price,
            verification_price=found.verification.price,
            variance=found.variance,
            threshold=found.threshold,
            blocked=blocked,
            batch_run_id=batch_run_id,
            created_at=now,
        )
    )
    session.flush()
    return Flag.NEW


@dataclass(frozen=True, slots=True)
class Flagged:
    """A flagged price a decision names, and the decision already made on it (None: open)."""

    variance: PriceVarianceRow
    price: SettlementPrice
    decision: PriceDecision | None


def flagged_price(session: Session, symbol: str, day: date, source: str) -> Flagged | None:
    stmt = (
        select(PriceVarianceRow, SettlementPrice, PriceDecision)
        .join(SettlementPrice, SettlementPrice.id == PriceVarianceRow.price_id)
        .outerjoin(PriceDecision, PriceDecision.price_variance_id == PriceVarianceRow.id)
        .where(SettlementPrice.symbol == symbol, SettlementPrice.price_date == day, SettlementPrice.source == source)
    )
    row = session.execute(stmt).first()
    return None if row is None else Flagged(row[0], row[1], row[2])


def same_decision(stored: PriceDecision, row: PriceDecisionRow, replacement: SettlementPrice | None) -> bool:
    """A decision given again as it was made (the same file loaded twice): nothing to do."""
    price = replacement.price if replacement is not None else None
    return (stored.decision, stored.decided_by, stored.reason, price) == (
        row.decision.value,
        row.decided_by,
        row.reason,
        row.price,
    )


def write_manual_price(
    session: Session, flagged: SettlementPrice, row: PriceDecisionRow, line: int, file: str, sha256: str, now: datetime
) -> tuple[int | None, str | None]:
    """The price a person supplied, as a settlement price of source `manual` (its currency,
    unit and type the flagged price's), through the write path: (its id, None), or (None,
    why not) when a different manual price of that symbol and date is stored already."""
    assert row.price is not None
    payload = {
        "symbol": flagged.symbol,
        "price_date": flagged.price_date.isoformat(),
        "price": normalise_decimal(row.price),
        "currency": flagged.currency,
        "unit": flagged.unit,
        "price_type": flagged.price_type,
        "source": MANUAL_SOURCE,
    }
    columns = {
        **{k: getattr(flagged, k) for k in ("symbol", "price_date", "currency", "unit", "price_type", "confidence")},
        "price": row.price,
        "source": MANUAL_SOURCE,
        "published_at": None,
        "fetched_at": now,
        "file_name": file,
        "file_sha256": sha256,
        "request_id": None,
        "source_line": line,
        "numerator_price_id": None,
        "denominator_price_id": None,
    }
    key = keys.price_key(flagged.symbol, flagged.price_date, MANUAL_SOURCE)
    report = write_results(session, SettlementPrice, [result_row(key, payload, columns)], batch_run_id=None, now=now)
    if report.conflict_keys:
        stored = report.conflicts[key][0]["price"]
        return None, f"{key} is stored already with price {stored}"
    return session.scalar(select(SettlementPrice.id).where(SettlementPrice.idempotency_key == key)), None


def record_decision(
    session: Session,
    flagged: Flagged,
    row: PriceDecisionRow,
    replacement_id: int | None,
    *,
    file: str,
    sha256: str,
    now: datetime,
) -> None:
    session.add(
        PriceDecision(
            price_variance_id=flagged.variance.id,
            decision=row.decision.value,
            replacement_price_id=replacement_id if row.decision is Decision.REPLACE else None,
            decided_by=row.decided_by,
            reason=row.reason,
            file_name=file,
            file_sha256=sha256,
            decided_at=now,
        )
    )
    session.flush()
