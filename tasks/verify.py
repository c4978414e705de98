"""`hedgeops verify`: recompute every snapshot of a date from its stored inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.hedging.valuation_plan import FxValuationPlan
from core.verify import Finding, check_fx_snapshot, check_snapshot
from db.verify import fx_snapshots_of, restated_price_keys, snapshot_count, snapshots_of
from tasks.hedging.ports import hedging_ports
from tasks.hedging.posting_work import Book
from tasks.hedging.verify_postings import verify_entries
from tasks.ports import ports


@dataclass(slots=True)
class Verification:
    as_of: date
    snapshots: int = 0
    checked: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_date(as_of: date) -> Verification:
    """Check payload hashes, recompute from the contract (or hedged item) and the exact price
    rows used (FX: with the curves, method and functional currency its run recorded), and
    flag snapshots whose price has been restated since (a conflict on its key); then D's hedge
    accounting entries recomputed from the stored snapshots (tasks.hedging.verify_postings)."""
    result = Verification(as_of)
    hedging = hedging_ports()
    book = Book(hedging.chart, hedging.policy.functional_currency)
    with ports().uow() as uow:
        result.snapshots = snapshot_count(uow.session, as_of)
        price_keys: dict[str, list[str]] = {}
        for stored in snapshots_of(uow.session, as_of):
            result.checked += 1
            result.findings += check_snapshot(
                stored.key, stored.payload, stored.sha256, stored.contract, stored.price, as_of, stored.price_date
            )
            price_keys.setdefault(stored.price_key, []).append(stored.key)
        for fx in fx_snapshots_of(uow.session, as_of):
            result.checked += 1
            result.findings += check_fx_snapshot(
                fx.key,
                fx.payload,
                fx.sha256,
                fx.leg,
                fx.object_type,
                as_of,
                fx.prices,
                FxValuationPlan.from_details(fx.plan),
            )
            for price_key in fx.price_keys:
                price_keys.setdefault(price_key, []).append(fx.key)
        for price_key in sorted(restated_price_keys(uow.session, list(price_keys))):
            result.findings += [
                Finding(key, "price_restated", f"{price_key} was sent again with another value")
                for key in price_keys[price_key]
            ]
        result.entries, entry_findings = verify_entries(uow.session, book, as_of)
        result.findings += entry_findings
    return result
