"""Independent price verification (seed 004 §3.2.3): after the prices step, each D-1 price
of a symbol with a verification source is compared with that source's price of the same
date (core.price_checks); and a person's decisions on flagged prices, from a file."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy.orm import Session

from core import keys
from core.errors import InvalidInput
from core.price_checks import (
    PRICING_VARIANCE_EVENT,
    Decision,
    PriceChecks,
    PriceVariance,
    comparable,
    compare,
    to_verify,
)
from core.price_decisions import PriceDecisionRow, parse_price_decisions
from core.values import RowError
from db.audit import record_event
from db.models import SettlementPrice
from db.price_checks import (
    Flag,
    flagged_price,
    prices_of_sources,
    record_decision,
    record_variance,
    same_decision,
    write_manual_price,
)
from db.prices import prices_on
from tasks.ports import ports

log = structlog.get_logger(__name__)


def verify_prices(checks: PriceChecks, s: Session, wanted: Mapping[str, date], run_id: int, now: datetime) -> list[str]:
    """Compare each chosen D-1 price with its verification price; every price above its
    threshold and not yet decided is one exception of the run (a line each, returned). A new
    flag is recorded once, with its `treasury.fx_contract.pricing_variance` audit event."""
    chosen = prices_on(s, wanted)
    sources = to_verify(checks, chosen)
    verifying = prices_of_sources(s, {sym: (chosen[sym].price_date, src) for sym, src in sources.items()})
    flagged = []
    for symbol, source in sorted(sources.items()):
        price, check = chosen[symbol], verifying.get(symbol)
        if check is None or not comparable(price, check):
            why = "no price" if check is None else f"a price in {check.currency} per {check.unit}"
            log.warning(
                "price_not_verified", symbol=symbol, price_date=price.price_date.isoformat(), source=source, why=why
            )
            continue
        found = compare(price, check, checks.threshold_of(symbol))
        if found is None:
            continue
        flag = record_variance(s, found, blocked=checks.blocks, batch_run_id=run_id, now=now)
        if flag is Flag.NEW:
            _audit_variance(s, found, checks.blocks, run_id, now)
        if flag is not Flag.DECIDED:
            flagged.append(describe(found))
    return flagged


def _audit_variance(s: Session, found: PriceVariance, blocked: bool, run_id: int, now: datetime) -> None:
    details = {**found.as_details(), "blocked": blocked}
    log.warning(
        "price_variance_flagged",
        symbol=found.symbol,
        price_date=found.price_date.isoformat(),
        variance=str(found.variance),
        threshold=str(found.threshold),
        blocked=blocked,
    )
    record_event(
        s,
        PRICING_VARIANCE_EVENT,
        entity_type="settlement_price",
        entity_id=keys.price_key(found.symbol, found.price_date, found.price.source),
        now=now,
        batch_run_id=run_id,
        details=details,
    )


def describe(found: PriceVariance) -> str:
    """`pricing variance LME-AL 2026-11-19: vendor_csv 2614.77 vs lme_check 2563.5 (2.0000% > 1%)`."""
    pct = (found.variance * 100).normalize()
    limit = (found.threshold * 100).normalize()
    return (
        f"pricing variance {found.symbol} {found.price_date.isoformat()}: {found.price.source} {found.price.price} "
        f"vs {found.verification.source} {found.verification.price} ({pct:f}% > {limit:f}%)"
    )


@dataclass(slots=True)
class DecisionsLoaded:
    accepted: int = 0
    replaced: int = 0
    existing: int = 0


def load_price_decisions_csv(text: str, file: str) -> DecisionsLoaded:
    """All or nothing: any bad row, or any row naming no flagged price or contradicting a
    decision made before, and nothing is written."""
    p = ports()
    report = parse_price_decisions(text, file)
    if report.errors:
        raise InvalidInput(f"{file}: {len(report.errors)} bad row(s); nothing loaded", [str(e) for e in report.errors])
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with p.uow() as uow:
        loaded, errors = DecisionsLoaded(), []
        for line, row in report.rows:
            problem = apply_decision(uow.session, row, line, file, sha256, p.clock(), loaded)
            if problem is not None:
                errors.append(str(RowError(file, line, problem)))
        if errors:
            raise InvalidInput(f"{file}: {len(errors)} refused row(s); nothing loaded", errors)
        uow.commit()
    return loaded


def apply_decision(
    s: Session, row: PriceDecisionRow, line: int, file: str, sha256: str, now: datetime, loaded: DecisionsLoaded
) -> str | None:
    """One decision applied (audited, with the person as actor), or why it is refused."""
    named = f"{row.symbol} {row.price_date.isoformat()} from {row.source}"
    flagged = flagged_price(s, row.symbol, row.price_date, row.source)
    if flagged is None:
        return f"no flagged price {named} (the prices run's failures list them)"
    if flagged.decision is not None:
        stored = flagged.decision
        replacement = s.get(SettlementPrice, stored.replacement_price_id) if stored.replacement_price_id else None
        if same_decision(stored, row, replacement):
            loaded.existing += 1
            return None
        return f"{named} was decided already ({stored.decision} by {stored.decided_by}); a decision is final"
    replacement_id = None
    if row.decision is Decision.REPLACE:
        replacement_id, problem = write_manual_price(s, flagged.price, row, line, file, sha256, now)
        if problem is not None:
            return problem
    record_decision(s, flagged, row, replacement_id, file=file, sha256=sha256, now=now)
    accepted = row.decision is Decision.ACCEPT
    record_event(
        s,
        "price_variance_accepted" if accepted else "price_variance_replaced",
        entity_type="settlement_price",
        entity_id=flagged.price.idempotency_key,
        now=now,
        actor=row.decided_by,
        details={
            "symbol": row.symbol,
            "price_date": row.price_date.isoformat(),
            "source": row.source,
            "price": flagged.price.price,
            "verification_price": flagged.variance.verification_price,
            "variance": flagged.variance.variance,
            "replacement_price": row.price,
            "replacement_price_id": replacement_id,
            "reason": row.reason,
            "file": file,
            "file_sha256": sha256,
        },
    )
    if accepted:
        loaded.accepted += 1
    else:
        loaded.replaced += 1
    return None
