"""Loading master data and price files on demand (the CLI's `load` commands)."""

from __future__ import annotations

from dataclasses import dataclass

from core.bulk import paused_gc
from core.contracts import parse_contract_csv
from core.errors import InvalidInput
from core.ports import PriceBatch
from core.values import Counts
from db.contracts import ContractLoad, load_contracts
from tasks.ports import Ports, ports
from tasks.prices import store_crosses, store_price_batch


@dataclass(frozen=True, slots=True)
class ContractsLoaded:
    load: ContractLoad
    rows: int


def load_contracts_csv(text: str, file: str) -> ContractsLoaded:
    """All or nothing: any bad row or refused change and nothing is written."""
    p = ports()
    report = parse_contract_csv(text, file, p.date_window)
    if report.errors:
        raise InvalidInput(f"{file}: {len(report.errors)} bad row(s); nothing loaded", [str(e) for e in report.errors])
    with p.uow() as uow:
        load = load_contracts(uow.session, [row for _, row in report.rows], now=p.clock(), source=file)
        uow.commit()
    return ContractsLoaded(load, len(report.rows))


@dataclass(frozen=True, slots=True)
class PricesLoaded:
    prices: Counts
    #: The ECB crosses derived from the batch's rows (None: the batch is no crosses' legs).
    crosses: Counts | None


def load_prices(batch: PriceBatch) -> PricesLoaded:
    """Good rows land, bad rows are reported, then the crosses of their legs (one
    transaction); the same write path as the nightly."""
    return _load_prices(ports(), batch)


def _load_prices(p: Ports, batch: PriceBatch) -> PricesLoaded:
    with p.uow() as uow, paused_gc():
        now = p.clock()
        counts = store_price_batch(uow.session, batch, batch_run_id=None, now=now)
        crosses = store_crosses(uow.session, batch, p.ecb_crosses, batch_run_id=None, now=now)
        uow.commit()
    return PricesLoaded(counts, crosses)


def load_price_batch(batch: PriceBatch) -> Counts:
    """`load_prices`, and the batch's own counts."""
    return _load_prices(ports(), batch).prices
