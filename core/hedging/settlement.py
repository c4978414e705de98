"""Settlement at maturity (seed 004 §3.2.5, §4.1): the proposal the nightly computes from the
fixing, the person's order that settles it, and the settlement entry. Pure: prices, the
carrying amount and the clock are arguments.

Proposal (`propose`), on or after the settlement date (the contract's maturity date), from the
fixing F: the price of the fixing date (the last business day of the symbol's calendar on or
before the settlement date) from the contract's fixing source, and from no other: `ecb` (the
ECB reference rate or its cross; an FX forward's default), a configured price source, or for a
commodity forward by default the settlement price (the most trusted stored price of the date):

- NDF: one cash amount `side x N x (F - K)` in the settlement (quote) currency;
- deliverable: the notional exchanged at K: `side x N` of the base currency and
  `-side x N x K` of the quote currency (+ received, - paid); F values the base leg;
- commodity forward: cash `side x Q x (P - K)`, P the settlement price of its maturity date.

side +1 buys, -1 sells; N the notional (base currency), Q the quantity; K the contracted
rate or price (6 dp); amounts are money, half-even to the cent once, in EXACT_CONTEXT.

Settling (`settlement_entry`): the derivative derecognised at its last carrying amount C
(what the journal carries: the latest entry's state; 0 for a contract never posted), the cash
booked, the difference to FX gain/loss (IFRS 9 3.2.3(a): the rights expired; 4.1.4: a
derivative is at fair value through P&L, so what was not yet recognised goes there). In the
quote currency, debit positive:

    NDF, commodity:  cash V = side x N x (F - K);      FX gain/loss -(V - C)
    deliverable:     cash(base) side x N x R, cash(quote) -side x N x K (R the actual rate);
                     FX gain/loss -(side x N x (R - K) - C)
    derivative:      Cr asset C when C > 0, Dr liability -C when C < 0

The dossier's reserve is then reclassified by its method (core.hedging.releases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core import keys
from core.hedging.accounts import AccountRole, ChartOfAccounts
from core.hedging.dossier import HedgeType, authorisation_problems
from core.hedging.fx import base_currency
from core.hedging.journal import EntryKind, JournalLine, PostedState, Source, balance_problems
from core.hedging.periods import period_of
from core.money import EXACT_CONTEXT, money
from core.values import Contract, Instrument

ZERO = Decimal(0)
#: The cash account of a currency when none is configured: `1010-EUR`, `1010-USD`.
DEFAULT_CASH_ACCOUNT = "1010-{currency}"
FIXING_UNAVAILABLE = "fixing_unavailable"
#: The fixing source of the ECB reference rates and their crosses (a contract's default).
ECB_FIXING = "ecb"


def fixing_source_of(instrument: Instrument, stated: str | None) -> str | None:
    """The source a contract's fixing is read from: the one it states, else ECB for an FX
    forward, else None for a commodity forward (its settlement price: the most trusted
    stored price of the date, whatever its source)."""
    if stated is not None:
        return stated
    return ECB_FIXING if instrument is Instrument.FX_FORWARD else None


class SettlementKind(StrEnum):
    NDF = "ndf"
    DELIVERABLE = "deliverable"
    CASH = "cash"  # a commodity forward, cash-settled

    @classmethod
    def of(cls, contract: Contract) -> SettlementKind:
        if contract.instrument is Instrument.COMMODITY_FORWARD:
            return cls.CASH
        return cls.NDF if contract.settlement_method == "ndf" else cls.DELIVERABLE


class SettlementStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class Fixing:
    """The price a settlement is computed from: symbol, date, the source (the stored price's;
    while none is found, the source asked), the stored price (None: not there), and the
    contract's fixing source it was read from (fixing_source_of)."""

    symbol: str
    day: date
    source: str | None
    price: Decimal | None = None
    price_id: int | None = None
    fixing_source: str | None = None

    def describe(self) -> str:
        return f"{self.symbol} of {self.day}" + (f" from {self.source}" if self.source else "")


def cash_difference(side: int, notional: Decimal, fixing: Decimal, contracted: Decimal) -> Decimal:
    """side x notional x (fixing - contracted): money in the quote (or price) currency,
    half-even to the cent once; exact before that (EXACT_CONTEXT)."""
    ctx = EXACT_CONTEXT
    return money(ctx.multiply(ctx.multiply(Decimal(side), notional), ctx.subtract(fixing, contracted)))


def leg(side: int, notional: Decimal, rate: Decimal) -> Decimal:
    """side x notional x rate, money (a deliverable's leg in the quote currency)."""
    return money(EXACT_CONTEXT.multiply(EXACT_CONTEXT.multiply(Decimal(side), notional), rate))


@dataclass(frozen=True, slots=True)
class Proposal:
    """A settlement the worker computed (status pending until a person settles it)."""

    contract_id: int
    contract_ref: str
    kind: SettlementKind
    settlement_date: date
    side: int
    notional: Decimal
    contracted: Decimal
    currency: str  # the settlement currency (the contract's quote / price currency)
    fixing: Fixing

    @property
    def fixing_price(self) -> Decimal:
        if self.fixing.price is None:
            raise ValueError(f"{self.contract_ref}: no fixing {self.fixing.describe()}")
        return self.fixing.price

    def amounts(self, rate: Decimal | None = None) -> dict[str, Any]:
        """The amounts at `rate` (the fixing when None): `difference` side x N x (rate - K);
        a deliverable's two legs too (base: side x N; quote: -side x N x K; base_value: side x N x rate)."""
        r = self.fixing_price if rate is None else rate
        out: dict[str, Any] = {"rate": r, "difference": cash_difference(self.side, self.notional, r, self.contracted)}
        if self.kind is SettlementKind.DELIVERABLE:
            out |= {
                "base_currency": self.base_currency,
                "base_amount": money(Decimal(self.side) * self.notional),
                "quote_amount": leg(-self.side, self.notional, self.contracted),
                "base_value": leg(self.side, self.notional, r),
            }
        return out

    @property
    def base_currency(self) -> str | None:
        return base_currency(self.fixing.symbol) if self.kind is SettlementKind.DELIVERABLE else None

    @property
    def key(self) -> str:
        return keys.settlement_key(self.contract_id, self.settlement_date)

    @property
    def payload(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "contract_ref": self.contract_ref,
            "method": self.kind,
            "settlement_date": self.settlement_date,
            "side": self.side,
            "notional": self.notional,
            "contracted_rate": self.contracted,
            "currency": self.currency,
            "fixing": {
                "symbol": self.fixing.symbol,
                "date": self.fixing.day,
                "source": self.fixing.source,
                "price": self.fixing.price,
                "price_id": self.fixing.price_id,
                "fixing_source": self.fixing.fixing_source,
            },
            "amounts": self.amounts(),
        }


@dataclass(frozen=True, slots=True)
class MissingFixing:
    """No proposal: the fixing price is not stored (an exception naming it)."""

    contract_id: int
    contract_ref: str
    settlement_date: date
    fixing: Fixing

    @property
    def reason(self) -> str:
        return f"{self.contract_ref}: no fixing price {self.fixing.describe()} (settlement {self.settlement_date})"


def propose(contract: Contract, fixing: Fixing) -> Proposal | MissingFixing:
    """The proposal of `contract` at its maturity date from `fixing` (see the module docstring)."""
    if fixing.price is None:
        return MissingFixing(contract.id, contract.contract_ref, contract.maturity_date, fixing)
    return Proposal(
        contract.id,
        contract.contract_ref,
        SettlementKind.of(contract),
        contract.maturity_date,
        contract.side.sign,
        contract.quantity,
        contract.entry_price,
        contract.currency,
        fixing,
    )


@dataclass(frozen=True, slots=True)
class SettlementOrder:
    """A person's settlement (the file's row): the rate (a deliverable's actual rate, or the
    fixing confirmed), who settled it and the two approvers (seed 004 §4.1)."""

    contract_ref: str
    settlement_date: date
    rate: Decimal
    settled_by: str
    approver_1: str
    approver_2: str

    def as_payload(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "settled_by": self.settled_by,
            "approver_1": self.approver_1,
            "approver_2": self.approver_2,
        }


def authorisation(order: SettlementOrder) -> list[str]:
    """Two distinct approvers, neither the person who settles (seed 004 §4.1, Lock 4)."""
    problems = authorisation_problems(order.settled_by, order.approver_1, order.approver_2)
    return [p.replace("designated this hedge", "settles this contract") for p in problems]


def order_problems(order: SettlementOrder, proposal: Proposal) -> list[str]:
    """Why `order` cannot settle `proposal`: its approvals, and for an NDF or a commodity
    forward a rate that is not the fixing it confirms."""
    problems = authorisation(order)
    if proposal.kind is not SettlementKind.DELIVERABLE and order.rate != proposal.fixing_price:
        problems.append(
            f"rate: {order.rate} does not confirm the fixing {proposal.fixing_price} ({proposal.fixing.describe()})"
        )
    return problems


@dataclass(frozen=True, slots=True)
class Carrying:
    """The derivative as the journal carries it: its amount (quote currency, asset positive)
    and the entry that left it (None: never posted, carried at 0)."""

    amount: Decimal = ZERO
    entry_key: str | None = None
    entry_sha256: str | None = None
    state: PostedState | None = None

    @property
    def source(self) -> tuple[Source, ...]:
        return () if self.entry_key is None else (Source("journal_entry", self.entry_key, self.entry_sha256),)


@dataclass(frozen=True, slots=True)
class SettlementAccounts:
    """Where a settlement posts: the derivative and FX gain/loss codes of the chart (the
    relationship's hedge type; cash flow's for a contract never designated), cash per currency."""

    chart: ChartOfAccounts
    cash: Mapping[str, str] = field(default_factory=dict)
    #: The functional currency, when configured: a reserve carried in it is released at its
    #: functional amount too (core.hedging.releases). The settlement entry has none.
    functional_currency: str | None = None

    def code(self, role: AccountRole, hedge_type: HedgeType | None, currency: str) -> str:
        if role is AccountRole.SETTLEMENT_CASH:
            return self.cash.get(currency) or DEFAULT_CASH_ACCOUNT.format(currency=currency)
        return self.chart.code(hedge_type or HedgeType.CASH_FLOW, role)


@dataclass(frozen=True, slots=True)
class SettlementEntry:
    """The balanced entry `FX_SETTLEMENT-<contract>-<date>` (transaction currency: the
    settlement currency; a deliverable's base leg at its value there, its amount in `figures`)."""

    key: str
    contract_id: int
    relationship_id: int | None
    hedge_type: HedgeType | None
    as_of: date
    posting_date: date
    currency: str
    lines: tuple[JournalLine, ...]
    state_after: PostedState | None
    figures: dict[str, Any]

    def __post_init__(self) -> None:
        if problems := balance_problems(self.lines, False):
            raise ValueError(f"{self.key}: " + "; ".join(problems))

    @property
    def period(self) -> str:
        return period_of(self.posting_date)

    @property
    def payload(self) -> dict[str, Any]:
        """The shape of core.hedging.journal.JournalEntry's payload, plus the contract."""
        return {
            "key": self.key,
            "kind": EntryKind.SETTLEMENT,
            "contract_id": self.contract_id,
            "relationship_id": self.relationship_id,
            "hedge_type": self.hedge_type,
            "as_of_date": self.as_of,
            "posting_date": self.posting_date,
            "period": self.period,
            "currency": self.currency,
            "functional_currency": None,
            "lines": [line.as_payload() for line in self.lines],
            "state_after": None if self.state_after is None else self.state_after.as_payload(),
            "reverses": None,
            "corrects": None,
            "narrative": f"{self.figures['method']} settlement of {self.figures['contract_ref']} on {self.as_of}",
            "figures": self.figures,
        }


def settlement_entry(
    proposal: Proposal,
    order: SettlementOrder,
    carrying: Carrying,
    accounts: SettlementAccounts,
    *,
    relationship_id: int | None = None,
    hedge_type: HedgeType | None = None,
) -> SettlementEntry:
    """The settlement entry (see the module docstring), dated and posted on the settlement date."""
    amounts = proposal.amounts(order.rate)
    ccy, c = proposal.currency, carrying.amount
    basis = (Source("settlement", proposal.key), *carrying.source)
    cash: list[tuple[Decimal, str]]
    if proposal.kind is SettlementKind.DELIVERABLE:
        cash = [(amounts["base_value"], str(amounts["base_currency"])), (amounts["quote_amount"], ccy)]
    else:
        cash = [(amounts["difference"], ccy)]
    booked = sum((amount for amount, _ in cash), ZERO)
    drafts: list[tuple[AccountRole, Decimal, str]] = [(AccountRole.SETTLEMENT_CASH, a, cur) for a, cur in cash]
    drafts += [
        (AccountRole.DERIVATIVE_ASSET, -max(c, ZERO), ccy),
        (AccountRole.DERIVATIVE_LIABILITY, max(-c, ZERO), ccy),
        (AccountRole.FX_GAIN_LOSS, -(booked - c), ccy),
    ]
    lines = tuple(
        JournalLine(accounts.code(role, hedge_type, cur), role, amount, None, basis)
        for role, amount, cur in drafts
        if amount != 0
    )
    state = carrying.state
    after = None if state is None else PostedState(**(state.as_payload() | {"as_of": proposal.settlement_date}))
    if after is not None:
        after = PostedState(**(after.as_payload() | {"derivative": ZERO, "derivative_functional": None}))
    figures = {
        "contract_ref": proposal.contract_ref,
        "method": proposal.kind,
        "carrying_amount": c,
        "cash": booked,
        "gain_loss": booked - c,
        "order": order.as_payload(),
        **amounts,
    }
    return SettlementEntry(
        keys.fx_settlement_key(proposal.contract_id, proposal.settlement_date),
        proposal.contract_id,
        relationship_id,
        hedge_type,
        proposal.settlement_date,
        proposal.settlement_date,
        ccy,
        lines,
        after,
        figures,
    )
