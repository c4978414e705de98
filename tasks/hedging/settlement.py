"""Settlement at maturity (seed 004 §3.2.5): the nightly's proposals (the last move of the
nightly, with the counterparty exposures: tasks.nightly), `hedgeops load settlements FILE`
(a person settles: the entry, the reserve's release, the contract settled) and the report
of a period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.hedging.accounts import AccountRole
from core.hedging.journal import JournalEntry, Source
from core.hedging.lifecycle import settlement_problem
from core.hedging.period_lock import PeriodRefused
from core.hedging.periods import Period, period_of
from core.hedging.postings import PostingTerms
from core.hedging.releases import reserve_release
from core.hedging.settlement import (
    ECB_FIXING,
    Fixing,
    MissingFixing,
    Proposal,
    SettlementAccounts,
    SettlementEntry,
    SettlementOrder,
    SettlementStatus,
    fixing_source_of,
    order_problems,
    propose,
    settlement_entry,
)
from core.hedging.settlement_file import parse_settlements
from core.values import Contract, ContractStatus, Counts, Instrument, WriteOutcome
from db.audit import record_event
from db.hedging.journals import write_entries
from db.hedging.periods import closed_periods
from db.hedging.settlements import (
    Due,
    Relationship,
    carrying_of,
    due_contracts,
    exceptions_in,
    fixing_price,
    proposals_of,
    record_order,
    relationships_of,
    settlements_in,
    write_missing,
    write_proposals,
    write_settlement_entries,
)
from db.lifecycle import settle_contract
from tasks.hedging.ports import hedging_ports
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)

#: Where an FX forward's fixing comes from: the ECB reference rate (a cross derived from it).
FX_FIXING_SOURCES = ("ecb", "ecb_cross")
RESERVES = (AccountRole.CASH_FLOW_HEDGE_RESERVE, AccountRole.TRANSLATION_RESERVE)
OCI_RELEASED = "treasury.fx_contract.oci_released"


@dataclass(slots=True)
class ProposalsDone:
    """What the proposal move counted, and each missing fixing (an exception of the nightly)."""

    counts: Counts
    missing: list[str] = field(default_factory=list)


def propose_settlements(p: Ports, s: Session, as_of: date, run_id: int | None) -> ProposalsDone:
    """A `pending` proposal for every contract due (maturity on or before `as_of`, not yet
    proposed) whose fixing is stored; a `fixing_unavailable` exception naming the price otherwise."""
    proposals: list[Proposal] = []
    missing: list[MissingFixing] = []
    for contract, stated in due_contracts(s, as_of):
        symbol = contract.underlying
        day = _fixing_day(p, contract)
        if day > p.d1_dates([symbol], as_of)[symbol]:
            continue
        source = fixing_source_of(contract.instrument, stated)
        outcome = propose(contract, fixing_price(s, Fixing(symbol, day, source, None, None, source), _read(source)))
        if isinstance(outcome, Proposal):
            proposals.append(outcome)
        else:
            missing.append(outcome)
    now = p.clock()
    counts = write_proposals(s, proposals, batch_run_id=run_id, now=now).counts()
    counts.add(write_missing(s, missing, as_of, batch_run_id=run_id, now=now).counts())
    counts.exceptions += len(missing)
    log.info("settlements_proposed", as_of=as_of.isoformat(), proposed=len(proposals), missing=len(missing))
    return ProposalsDone(counts, [m.reason for m in missing])


def _fixing_day(p: Ports, contract: Contract) -> date:
    """An FX forward fixes on the business day before its settlement date (TARGET for the
    ECB's rates): the D-1 rate its settlement date's nightly values it with, so that date's
    nightly proposes it. A commodity forward settles against the price of its maturity date
    (the last business day of its calendar on or before it): the next nightly proposes it.
    Either is due once D's prices (D-1) reach the fixing date."""
    symbol = contract.underlying
    if contract.instrument is Instrument.FX_FORWARD:
        return p.d1_dates([symbol], contract.maturity_date)[symbol]
    return p.d1_dates([symbol], contract.maturity_date + timedelta(days=1))[symbol]


def _read(source: str | None) -> tuple[str, ...] | None:
    """The stored price sources a fixing source reads, and no other: `ecb` its reference
    rates and their crosses, a configured source itself; None (a commodity forward's
    settlement price) the most trusted price of any source."""
    if source is None:
        return None
    return FX_FIXING_SOURCES if source == ECB_FIXING else (source,)


@dataclass(slots=True)
class SettledLoad:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)


def load_settlements_json(text: str, file: str) -> SettledLoad:
    """All or nothing: any bad entry, or any settlement refused, and nothing is written."""
    p, hedging = ports(), hedging_ports()
    orders, errors = parse_settlements(text, file, p.date_window)
    if errors:
        raise InvalidInput(f"{file}: {len(errors)} bad settlement(s); nothing loaded", errors)
    accounts = SettlementAccounts(hedging.chart, functional_currency=hedging.policy.functional_currency)
    done = SettledLoad()
    with p.uow() as uow:
        s = uow.session
        due = proposals_of(s, [o.contract_ref for o in orders])
        closed = closed_periods(s, {period_of(o.settlement_date) for o in orders})
        for index, order in enumerate(orders):
            where = f"{file}: settlements[{index}]: {order.contract_ref} {order.settlement_date}"
            if problem := _settle(
                p, s, due.get((order.contract_ref, order.settlement_date)), order, closed, accounts, done
            ):
                errors.append(f"{where}: {problem}")
        if errors:
            raise InvalidInput(f"{file}: {len(errors)} settlement(s) refused; nothing loaded", errors)
        uow.commit()
    return done


def _settle(
    p: Ports,
    s: Session,
    due: Due | None,
    order: SettlementOrder,
    closed: set[str],
    accounts: SettlementAccounts,
    done: SettledLoad,
) -> str | None:
    """One order settled (or found settled so already); or why it is refused."""
    if due is None:
        return "no proposed settlement (the nightly proposes one once the contract's fixing is stored)"
    if due.row.status == SettlementStatus.SETTLED.value:
        return _again(due, order, done)
    if (period := period_of(order.settlement_date)) in closed:
        return f"period {period} is closed: a settlement dated in it is refused (seed 004 Lock 1)"
    if problems := order_problems(order, due.proposal):
        return "; ".join(problems)
    contract = due.contract
    status = ContractStatus(contract.status)
    if problem := settlement_problem(Instrument(contract.instrument), status):
        return problem
    return _post(p, s, due, order, accounts, done)


def _again(due: Due, order: SettlementOrder, done: SettledLoad) -> str | None:
    row = due.row
    same = (row.settled_rate, row.settled_by, row.approver_1, row.approver_2) == (
        order.rate,
        order.settled_by,
        order.approver_1,
        order.approver_2,
    )
    if not same:
        return f"already settled by {row.settled_by} at {row.settled_rate} (a settlement is not changed)"
    done.existing.append(due.proposal.key)
    return None


def _post(
    p: Ports, s: Session, due: Due, order: SettlementOrder, accounts: SettlementAccounts, done: SettledLoad
) -> str | None:
    """The settlement entry, each relationship's release, the order recorded, the contract settled, audited."""
    now, proposal = p.clock(), due.proposal
    relationships = relationships_of(s, proposal.contract_id)
    carrying, rid = carrying_of(s, [r.relationship_id for r in relationships])
    subject = next((r for r in relationships if r.relationship_id == rid), relationships[-1] if relationships else None)
    entry = settlement_entry(
        proposal,
        order,
        carrying,
        accounts,
        relationship_id=subject.relationship_id if subject else None,
        hedge_type=subject.hedge_type if subject else None,
    )
    if write_settlement_entries(s, entry, now=now).outcomes[0] is WriteOutcome.CONFLICT:
        return f"{entry.key} is stored already with other figures"
    releases = _releases(relationships, rid, entry, accounts)
    report = write_entries(s, releases, batch_run_id=None, now=now)
    if WriteOutcome.CONFLICT in report.outcomes:
        return "a reserve release of this date is stored already with other figures"
    record_order(s, due, order, entry, [r.key for r in releases], now)
    _audit(s, due, order, entry.figures | {"entry": entry.key}, relationships, releases, now)
    done.created.append(proposal.key)
    done.entries += [entry.key, *(r.key for r in releases)]
    return None


def _releases(
    relationships: list[Relationship], rid: int | None, entry: SettlementEntry, accounts: SettlementAccounts
) -> list[JournalEntry]:
    """Each relationship's reserve released by its dossier's method at the settlement date
    (core.hedging.releases: none for `none` and for a reserve already released)."""
    out = []
    for r in relationships:
        state = entry.state_after if r.relationship_id == rid else r.state
        if state is None:
            continue
        functional = accounts.functional_currency if state.reserve_functional is not None else None
        terms = PostingTerms(
            r.relationship_id,
            r.hedge_type,
            r.hedge_ratio,
            entry.currency,
            functional,
            r.oci_release_method,
            accounts.chart,
        )
        release = reserve_release(terms, state, entry.as_of, entry.posting_date, (Source("settlement", entry.key),))
        if release is not None:
            out.append(release)
    return out


def _audit(
    s: Session,
    due: Due,
    order: SettlementOrder,
    figures: dict[str, Any],
    relationships: list[Relationship],
    releases: list[JournalEntry],
    now: datetime,
) -> None:
    p = due.proposal
    methods = {str(r.relationship_id): r.oci_release_method.value for r in relationships}
    details = {
        "contract_ref": p.contract_ref,
        "settlement_date": p.settlement_date.isoformat(),
        "settlement_method": p.kind.value,
        "currency": p.currency,
        "fixing": p.fixing.describe(),
        "approvers": [order.approver_1, order.approver_2],
        "oci_release_methods": methods,
        **{k: str(v) if not isinstance(v, (dict, list, type(None))) else v for k, v in figures.items()},
    }
    settle_contract(s, due.contract, now=now, actor=order.settled_by, details=details)
    for release in releases:
        target = next(line for line in release.lines if line.role not in RESERVES)
        record_event(
            s,
            OCI_RELEASED,
            entity_type="hedge_contract",
            entity_id=p.contract_id,
            now=now,
            actor=order.settled_by,
            details={
                "contract_ref": p.contract_ref,
                "relationship_id": release.relationship_id,
                "entry": release.key,
                "oci_release_method": str(release.figures["method"]),
                "amount": str(release.figures["reserve"]),
                "target_account": target.account,
                "target": target.role.value,
            },
        )


def settlements_report(period: str) -> dict[str, Any]:
    """The settlements dated in `period` (pending and settled) and its missing fixings."""
    try:
        span = Period.parse(period)
    except ValueError as exc:
        raise PeriodRefused(str(exc)) from None
    with ports().uow() as uow:
        rows = settlements_in(uow.session, span.first_day, span.last_day)
        missing = exceptions_in(uow.session, span.first_day, span.last_day)
        return {
            "period": str(span),
            "settlements": [_line(row, ref) for row, ref in rows],
            "missing_fixings": [
                {"as_of": e.as_of_date.isoformat(), "reason": e.details.get("reason")} for e in missing
            ],
        }


def _line(row: Any, ref: str) -> dict[str, Any]:
    fixing = row.payload["fixing"]
    stated = fixing.get("fixing_source")
    via = "" if stated in (None, fixing["source"]) else f", fixing source {stated}"
    return {
        "contract_ref": ref,
        "settlement_date": row.settlement_date.isoformat(),
        "method": row.method,
        "status": row.status,
        "currency": row.currency,
        "fixing": f"{fixing['symbol']} {fixing['date']} {fixing['price']} ({fixing['source']}{via})",
        "fixing_source": stated,
        "proposed_amount": row.proposed_amount,
        "settled_rate": row.settled_rate,
        "settled_amount": row.settled_amount,
        "settled_by": row.settled_by,
        "approvers": None if row.approver_1 is None else f"{row.approver_1}, {row.approver_2}",
        "journal_key": row.journal_key,
        "release_keys": row.release_keys or [],
    }
