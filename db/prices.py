"""Settlement prices: writing a source's batch through the write path, reading D-1 prices."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import keys
from core.canonical import JsonValue, normalise_decimal, text_and_sha
from core.ecb import CROSS_SOURCE, CrossPrice
from core.mtm import best_price
from core.ports import PriceBatch
from core.prices import PriceRow
from core.values import CONFIDENCE_BY_PRICE_TYPE, Confidence, Counts, ParseReport, Price
from db.models import PriceDecision, PriceFile, PriceVariance, SettlementPrice
from db.writepath import ResultRow, WriteReport, result_row, write_results


def price_result_rows(batch: PriceBatch, report: ParseReport[PriceRow] | None = None) -> list[ResultRow]:
    """The good rows of `report` (the batch's own by default) as results; the payload is
    the price's business values, each spelled canonically here (ISO date, normalised
    decimal, the type's value: core.canonical's spellings), so its JSON text and hash are
    made at once (`text_and_sha`; a million-row file makes a million of these)."""
    source, fetched_at, published_at = batch.source, batch.fetched_at, batch.published_at
    provenance = {
        "source": source,
        "fetched_at": fetched_at,
        "file_name": batch.report.file,
        "file_sha256": batch.file_sha256,
        "request_id": batch.request_id,
        "numerator_price_id": None,
        "denominator_price_id": None,
    }
    rows = []
    for line, row in (report or batch.report).rows:
        value = row.quantized_price
        price_type = row.price_type
        payload: dict[str, JsonValue] = {
            "symbol": row.symbol,
            "price_date": row.price_date.isoformat(),
            "price": normalise_decimal(value),
            "currency": row.currency,
            "unit": row.unit,
            "price_type": price_type.value,
            "source": source,
        }
        text, sha = text_and_sha(payload)
        columns = {
            "symbol": row.symbol,
            "price_date": row.price_date,
            "price": value,
            "currency": row.currency,
            "unit": row.unit,
            "price_type": price_type.value,
            "confidence": CONFIDENCE_BY_PRICE_TYPE[price_type].value,
            "published_at": row.published_at or published_at,
            "source_line": line,
            **provenance,
        }
        rows.append(ResultRow(keys.price_key(row.symbol, row.price_date, source), payload, sha, columns, text))
    return rows


def cross_result_rows(crosses: Iterable[CrossPrice], fetched_at: datetime) -> list[ResultRow]:
    """Derived crosses as results of source ecb_cross: the payload is the price's business
    values, as for any price (a cross derived again from the same legs is `existing`, one
    whose leg moved is a conflict); the provenance columns name the two leg rows."""
    rows = []
    for cross in crosses:
        row = cross.row
        payload = {
            "symbol": row.symbol,
            "price_date": row.price_date.isoformat(),
            "price": normalise_decimal(row.price),
            "currency": row.currency,
            "unit": row.unit,
            "price_type": row.price_type.value,
            "source": CROSS_SOURCE,
        }
        columns = {
            "symbol": row.symbol,
            "price_date": row.price_date,
            "price": row.price,
            "currency": row.currency,
            "unit": row.unit,
            "price_type": row.price_type.value,
            "source": CROSS_SOURCE,
            "confidence": row.confidence.value,
            "published_at": row.published_at,
            "fetched_at": fetched_at,
            "file_name": None,
            "file_sha256": None,
            "request_id": None,
            "source_line": None,
            "numerator_price_id": cross.numerator_price_id,
            "denominator_price_id": cross.denominator_price_id,
        }
        rows.append(result_row(keys.price_key(row.symbol, row.price_date, CROSS_SOURCE), payload, columns))
    return rows


def stored_legs(session: Session, source: str, symbols: Collection[str], since: date, until: date) -> list[Price]:
    """The stored rates of `symbols` from `source` dated `since` to `until` (both included)."""
    stmt = select(SettlementPrice).where(
        SettlementPrice.source == source,
        SettlementPrice.symbol.in_(sorted(symbols)),
        SettlementPrice.price_date.between(since, until),
    )
    return [price_value(r) for r in session.scalars(stmt)]


def file_seen(session: Session, source: str, sha256: str) -> bool:
    stmt = select(PriceFile.id).where(PriceFile.source == source, PriceFile.file_sha256 == sha256)
    return session.scalar(stmt) is not None


def record_file(
    session: Session, batch: PriceBatch, counts: Counts, *, batch_run_id: int | None, now: datetime
) -> None:
    """Remember a processed (or refused) file by its hash, once."""
    if batch.file_sha256 is None or file_seen(session, batch.source, batch.file_sha256):
        return
    session.add(
        PriceFile(
            source=batch.source,
            file_name=batch.report.file,
            file_sha256=batch.file_sha256,
            status="rejected" if batch.rejected else "ingested",
            processed=counts.processed,
            created=counts.created,
            existing=counts.existing,
            conflicts=counts.conflicts,
            rejected_rows=counts.exceptions,
            reason=batch.rejected,
            batch_run_id=batch_run_id,
            processed_at=now,
        )
    )
    session.flush()


def write_price_batch(session: Session, batch: PriceBatch, *, batch_run_id: int | None, now: datetime) -> WriteReport:
    """Every good row of the batch, part by part (a streamed file: a bounded part at a
    time, its bad rows gathered into `batch.report.errors`); one report for all of them."""
    whole = WriteReport([], [])
    for part in batch.reports():
        rows = price_result_rows(batch, part)
        report = write_results(session, SettlementPrice, rows, batch_run_id=batch_run_id, now=now, copy_new=True)
        whole.outcomes += report.outcomes
        whole.conflict_keys += report.conflict_keys
        whole.conflicts.update(report.conflicts)
    return whole


def write_cross_prices(
    session: Session, crosses: Iterable[CrossPrice], *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    return write_results(session, SettlementPrice, cross_result_rows(crosses, now), batch_run_id=batch_run_id, now=now)


def price_value(r: SettlementPrice, *, unverified: bool = False) -> Price:
    return Price(
        id=r.id,
        symbol=r.symbol,
        price_date=r.price_date,
        price=r.price,
        currency=r.currency,
        unit=r.unit,
        source=r.source,
        confidence=Confidence(r.confidence),
        unverified=unverified,
    )


def prices_on(session: Session, wanted: Mapping[str, date]) -> dict[str, Price]:
    """The most trusted price of each wanted symbol on its date (symbols without one are
    absent), as the pricing variance control leaves it (`with_verification`)."""
    by_date: dict[date, list[str]] = {}
    for symbol, day in wanted.items():
        by_date.setdefault(day, []).append(symbol)
    candidates: dict[str, list[Price]] = {}
    for day, symbols in by_date.items():
        stmt = select(SettlementPrice).where(
            SettlementPrice.symbol.in_(sorted(symbols)), SettlementPrice.price_date == day
        )
        for r in session.scalars(stmt):
            candidates.setdefault(r.symbol, []).append(price_value(r))
    chosen = {symbol: best_price(found) for symbol, found in candidates.items()}
    return with_verification(session, {symbol: price for symbol, price in chosen.items() if price is not None})


def with_verification(session: Session, chosen: dict[str, Price]) -> dict[str, Price]:
    """The variance control's say on each chosen price (core.price_checks): one a person
    replaced gives way to the price they supplied; one flagged with blocking on and not yet
    decided comes back `unverified` (valuation then gives `price_unverified`)."""
    if not chosen:
        return chosen
    stmt = (
        select(
            PriceVariance.price_id, PriceVariance.blocked, PriceDecision.decision, PriceDecision.replacement_price_id
        )
        .outerjoin(PriceDecision, PriceDecision.price_variance_id == PriceVariance.id)
        .where(PriceVariance.price_id.in_(sorted({p.id for p in chosen.values()})))
    )
    held = {row.price_id: row for row in session.execute(stmt)}
    if not held:
        return chosen
    found = dict(chosen)
    for symbol, price in chosen.items():
        row = held.get(price.id)
        if row is None:
            continue
        if row.replacement_price_id is not None:
            found[symbol] = price_value(session.get_one(SettlementPrice, row.replacement_price_id))
        elif row.blocked and row.decision is None:
            found[symbol] = replace(price, unverified=True)
    return found
