"""Settlement prices: writing a source's batch through the write path, reading D-1 prices."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import keys
from core.canonical import normalise_decimal
from core.mtm import best_price
from core.ports import PriceBatch
from core.values import Confidence, Price
from db.models import SettlementPrice
from db.writepath import ResultRow, WriteReport, result_row, write_results


def price_result_rows(batch: PriceBatch) -> list[ResultRow]:
    """The batch's good rows as results; the payload is the price's business values."""
    rows = []
    for line, row in batch.report.rows:
        value = row.quantized_price
        # Already in canonical spelling (ISO date, normalised decimal): cheap to canonicalise.
        payload = {"symbol": row.symbol, "price_date": row.price_date.isoformat(), "price": normalise_decimal(value),
                   "currency": row.currency, "unit": row.unit, "price_type": row.price_type.value,
                   "source": batch.source}
        columns = {
            "symbol": row.symbol, "price_date": row.price_date, "price": value, "currency": row.currency,
            "unit": row.unit, "price_type": row.price_type.value, "source": batch.source,
            "confidence": row.confidence.value, "published_at": None, "fetched_at": batch.fetched_at,
            "file_name": batch.report.file, "file_sha256": batch.file_sha256, "request_id": batch.request_id,
            "source_line": line,
        }
        rows.append(result_row(keys.price_key(row.symbol, row.price_date, batch.source), payload, columns))
    return rows


def write_price_batch(session: Session, batch: PriceBatch, *, batch_run_id: int | None, now: datetime) -> WriteReport:
    return write_results(session, SettlementPrice, price_result_rows(batch), batch_run_id=batch_run_id, now=now)


def prices_on(session: Session, symbols: Iterable[str], price_date: date) -> dict[str, Price]:
    """The most trusted price of each symbol on `price_date` (symbols without one are absent)."""
    wanted = sorted(set(symbols))
    if not wanted:
        return {}
    stmt = select(SettlementPrice).where(SettlementPrice.symbol.in_(wanted), SettlementPrice.price_date == price_date)
    by_symbol: dict[str, list[Price]] = {}
    for r in session.scalars(stmt):
        by_symbol.setdefault(r.symbol, []).append(Price(
            id=r.id, symbol=r.symbol, price_date=r.price_date, price=r.price, currency=r.currency,
            unit=r.unit, source=r.source, confidence=Confidence(r.confidence)))
    chosen = {symbol: best_price(candidates) for symbol, candidates in by_symbol.items()}
    return {symbol: price for symbol, price in chosen.items() if price is not None}
