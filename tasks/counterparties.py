"""Counterparties: the master data loaded on demand, the exposure per counterparty and
netting set (the last move of the nightly, tasks.nightly, and of a standalone MTM run), its
limit-breach alerts, and the report of a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.counterparties import parse_counterparty_csv
from core.errors import InvalidInput
from core.exposure import CounterpartyExposure, exposures, rate_symbols
from core.keys import limit_breach_alert_key
from core.run_details import RunRecord
from core.values import Counts, Job, RunStatus
from db.audit import event_exists, record_event
from db.counterparties import (
    CounterpartyLoad,
    counterparty_values,
    exposures_of,
    load_counterparties,
    snapshot_currencies,
    valued_contracts,
    write_exposures,
)
from db.models import BatchRun
from db.prices import prices_on
from db.uow import SqlAlchemyUnitOfWork
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)

LIMIT_BREACHED = "counterparty_limit_breached"
BREACH_ALERTED = "counterparty_limit_breach_alerted"


def load_counterparties_csv(text: str, file: str) -> CounterpartyLoad:
    """All or nothing: any bad row, or any refused change, and nothing is written."""
    p = ports()
    report = parse_counterparty_csv(text, file)
    if report.errors:
        raise InvalidInput(f"{file}: {len(report.errors)} bad row(s); nothing loaded", [str(e) for e in report.errors])
    with p.uow() as uow:
        loaded = load_counterparties(uow.session, [row for _line, row in report.rows], now=p.clock(), source=file)
        uow.commit()
    return loaded


@dataclass(slots=True)
class ExposureDone:
    """What the exposure move counted: its rows written, and as exceptions the breaches and
    the counterparties whose exposure a missing D-1 rate left uncomputed."""

    counts: Counts
    breaches: list[dict[str, Any]] = field(default_factory=list)
    missing_rates: list[str] = field(default_factory=list)


def compute_exposures(p: Ports, s: Session, as_of: date, run_id: int) -> ExposureDone:
    """Every counterparty's exposure of `as_of` from the date's MTM snapshots, converted at
    the D-1 ECB rates (their TARGET date), written through the write path; each breach audited."""
    counterparties = counterparty_values(s)
    if not counterparties:
        return ExposureDone(Counts())
    currencies = snapshot_currencies(s, as_of)
    symbols = {sym for cp in counterparties for ccy in currencies for sym in rate_symbols(ccy, cp.limit_currency)}
    ecb = {symbol: price.price for symbol, price in prices_on(s, p.d1_dates(symbols, as_of)).items()}
    found = exposures(counterparties, valued_contracts(s, as_of), ecb)
    now = p.clock()
    counts = write_exposures(s, found, as_of, batch_run_id=run_id, now=now).counts()
    done = ExposureDone(counts)
    for e in found:
        if e.breached:
            done.breaches.append(_breach(e, as_of))
            record_event(
                s, LIMIT_BREACHED, entity_type="counterparty", entity_id=e.counterparty.counterparty_id,
                now=now, batch_run_id=run_id, details=done.breaches[-1],
            )  # fmt: skip
        if e.missing_rates:
            done.missing_rates.append(f"{e.counterparty.counterparty_id}: no D-1 rate {', '.join(e.missing_rates)}")
    counts.exceptions += len(done.breaches) + len(done.missing_rates)
    log.info("counterparty_exposures_written", counterparties=len(found), breaches=len(done.breaches))
    return done


def failures_of(done: ExposureDone) -> list[str]:
    """The run's failures the exposure adds: each breach, each exposure left uncomputed."""
    return [f"limit breached: {b['counterparty_id']}" for b in done.breaches] + done.missing_rates


def exposure_after_mtm(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun) -> Counts:
    """A standalone MTM run of D (no nightly above it) ends, as the nightly does, with D's
    exposures from the snapshots it just wrote (the job's close, tasks.fanin.chunk_step): the
    counts to add to the run's, breaches and missing rates its exceptions and failures,
    breaches alerted after commit (once per counterparty and date, whichever run found them
    first). A step of a nightly leaves it to the nightly's last move; a run that already
    ended computes none."""
    if run.job != Job.MTM.value or run.parent_run_id is not None or run.status != RunStatus.RUNNING.value:
        return Counts()
    done = compute_exposures(p, uow.session, run.as_of_date, run.id)
    if failures := failures_of(done):
        earlier = RunRecord.from_details(run.details).failures or []
        run.details = {**run.details, **RunRecord(failures=[*earlier, *failures]).as_details()}
    if done.breaches:
        uow.after_commit(lambda: alert_breaches(p, done.breaches))
    return done.counts


def _breach(e: CounterpartyExposure, as_of: date) -> dict[str, Any]:
    return {
        "as_of": as_of.isoformat(),
        "counterparty_id": e.counterparty.counterparty_id,
        "netting_set": e.counterparty.netting_set,
        "exposure": str(e.exposure),
        "credit_limit": str(e.counterparty.credit_limit),
        "limit_currency": e.counterparty.limit_currency,
        "utilisation": str(e.utilisation),
        "headroom": str(e.headroom),
    }


def alert_breaches(p: Ports, breaches: list[dict[str, Any]]) -> int:
    """Each breach told through the notifier once per counterparty and date (after the run's
    commit: no call outside while a transaction is open); one the notifier could not deliver
    is tried again by the next nightly of the date. The number sent."""
    sent = 0
    for breach in breaches:
        entity = limit_breach_alert_key(breach["counterparty_id"], date.fromisoformat(breach["as_of"]))
        with p.uow() as uow:
            if event_exists(uow.session, BREACH_ALERTED, "counterparty", entity):
                continue
        message = (
            f"hedgeops: counterparty {breach['counterparty_id']} over its credit limit on {breach['as_of']}: "
            f"exposure {breach['exposure']} {breach['limit_currency']}, limit {breach['credit_limit']}"
        )
        try:
            p.notifier.notify(LIMIT_BREACHED, message, dict(breach))
        except Exception as exc:  # any notifier's failure: the next nightly of the date tries again
            log.error("counterparty_limit_alert_undelivered", error=str(exc), **breach)
            continue
        with p.uow() as uow:
            record_event(
                uow.session, BREACH_ALERTED, entity_type="counterparty", entity_id=entity, now=p.clock(), details=breach
            )
            uow.commit()
        sent += 1
    return sent


def counterparty_report(as_of: date) -> list[dict[str, Any]]:
    """The exposures of `as_of`, one line per counterparty (empty: no nightly computed them)."""
    with ports().uow() as uow:
        return [
            {
                "counterparty_id": c.counterparty_id,
                "legal_name": c.legal_name,
                "lei": c.lei,
                "netting_set": e.netting_set,
                "contracts": e.contracts,
                "net_mtm": e.net_mtm,
                "exposure": e.exposure,
                "credit_limit": e.credit_limit,
                "limit_currency": e.limit_currency,
                "utilisation": e.utilisation,
                "headroom": e.headroom,
                "breached": e.breached,
                "missing_rates": e.payload.get("missing_rates", []),
            }
            for e, c in exposures_of(uow.session, as_of)
        ]
