"""Loading master data and price files on demand (the CLI's `load` commands)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.bulk import paused_gc
from core.contracts import contract_parts, fixing_source_problem, survey_contracts
from core.errors import ContractChanged, InvalidInput
from core.ports import PriceBatch
from core.values import Counts
from db.contracts import REFUSED_PREFIX, load_contracts
from db.engine import page_cache
from tasks.ports import Ports, ports
from tasks.prices import store_crosses, store_price_batch


@dataclass(slots=True)
class ContractsLoaded:
    rows: int = 0
    created: int = 0
    existing: int = 0
    status_changed: int = 0
    counterparty_set: int = 0
    #: Draft fx_forwards whose terms changed.
    amended: int = 0
    #: Stored contracts changed in any way, each once (created + existing + changed = rows).
    changed: int = 0


#: Contract rows per part of the load: the rows and their ORM objects in memory at a time.
CONTRACT_PART_ROWS = 5_000


def load_contracts_csv(text: str, file: str) -> ContractsLoaded:
    """A contracts CSV given whole (the demo, the tests): as load_contracts_lines."""
    return _load_contracts(ports(), lambda: io.StringIO(text, newline=""), file)


def load_contracts_lines(lines: Callable[[], Iterable[str]], file: str) -> ContractsLoaded:
    """All or nothing, in bounded memory: a first pass checks every row (any bad row and
    nothing is written); the second loads the rows in parts of CONTRACT_PART_ROWS in one
    transaction, each part's objects let go once flushed; any refused change (a contract
    may change only its status, and take a counterparty it had none of) or an unknown
    counterparty (known only to the database: checked here, not in the first pass) rolls
    all of it back, the refused rows named. `lines` gives the file's lines afresh."""
    return _load_contracts(ports(), lines, file)


def _load_contracts(p: Ports, lines: Callable[[], Iterable[str]], file: str) -> ContractsLoaded:
    survey = survey_contracts(lines, file, p.date_window)
    if survey.bad:
        more = [f"... and {survey.bad - len(survey.errors)} more"] if survey.bad > len(survey.errors) else []
        raise InvalidInput(f"{file}: {survey.bad} bad row(s); nothing loaded", [str(e) for e in survey.errors] + more)
    if problem := fixing_source_problem(survey, file, (source.name for source in p.price_sources)):
        raise InvalidInput(f"{problem}; nothing loaded")
    loaded, refused, read = ContractsLoaded(rows=survey.rows), [], 0
    with p.uow() as uow:
        for part in contract_parts(lines(), file, CONTRACT_PART_ROWS, p.date_window):
            read += len(part)
            try:
                load = load_contracts(uow.session, part, now=p.clock(), source=file)
            except ContractChanged as exc:
                refused.append(str(exc).removeprefix(REFUSED_PREFIX))
                continue
            loaded.created += len(load.created)
            loaded.existing += len(load.existing)
            loaded.status_changed += len(load.status_changed)
            loaded.counterparty_set += len(load.counterparty_set)
            loaded.amended += len(load.amended)
            loaded.changed += len(load.changed)
            uow.session.flush()
            uow.session.expunge_all()
        if refused:
            raise ContractChanged(REFUSED_PREFIX + "; ".join(refused))
        if read != survey.rows:  # the file changed between the two passes
            raise InvalidInput(
                f"{file}: changed while it was loaded ({survey.rows} good rows, then {read}); nothing loaded"
            )
        uow.commit()
    return loaded


@dataclass(frozen=True, slots=True)
class PricesLoaded:
    prices: Counts
    #: The ECB crosses derived from the batch's rows (None: the batch is no crosses' legs).
    crosses: Counts | None


def load_prices(batch: PriceBatch) -> PricesLoaded:
    """Good rows land, bad rows are reported, then the crosses of their legs (one
    transaction); the same write path as the nightly."""
    return _load_prices(ports(), batch)


#: SQLite's page cache during a price load, KiB (its default is 2 MiB): a large file's parts
#: insert into the three indexes of settlement_prices all over them, and a cache smaller than
#: their working pages reads the same pages again and again. Memory only: durability is the
#: connection's (WAL, synchronous=NORMAL) either way.
PRICE_LOAD_CACHE_KIB = 32_768


def _load_prices(p: Ports, batch: PriceBatch) -> PricesLoaded:
    with p.uow() as uow, paused_gc():
        now = p.clock()
        with page_cache(uow.session, PRICE_LOAD_CACHE_KIB):
            counts = store_price_batch(uow.session, batch, batch_run_id=None, now=now)
            crosses = store_crosses(uow.session, batch, p.ecb_crosses, batch_run_id=None, now=now)
        uow.commit()
    return PricesLoaded(counts, crosses)


def load_price_batch(batch: PriceBatch) -> Counts:
    """`load_prices`, and the batch's own counts."""
    return _load_prices(ports(), batch).prices
