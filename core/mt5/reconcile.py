"""Reconciliation: the union of the positions the trading system expects and the ones
MT5 has open, each classified.

Hedging accounts (one position per trade) pair an expected position with the actual one
of its ticket, or, before the ticket is known, with the oldest unpaired position of the
same symbol, direction and magic. Netting accounts (one position per symbol) compare the
net of the expected positions of a symbol with that symbol's position.

A pair is `partial_fill` when the signed volumes differ by at least the symbol's volume
step, else `slippage` when the entry differs by more than the tolerance in points
(|price_open - entry| > points * point), else `matched`. An expected position gone from
MT5 is classified by the reason of its last closing deal: SO `stop_out`; SL `gap` when it
closed beyond its stop loss by more than the tolerance (a buy below sl - tolerance, a sell
above sl + tolerance), else `closed_by_sl_tp`, as TP is; client, mobile or web
`manual_close`; anything else, or no deal at all, `missing`. A position only in MT5 is an
`unknown_position` when its magic number is one of the account's (an empty list: every
magic); others belong to somebody else and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.money import money
from core.mt5 import constants as c
from core.mt5.values import ActualPosition, ClosingDeal, ExpectedPosition, ReconReason, ReconStatus, SymbolSpec
from core.values import Side

MANUAL_REASONS = frozenset({c.DEAL_REASON_CLIENT, c.DEAL_REASON_MOBILE, c.DEAL_REASON_WEB})


@dataclass(frozen=True, slots=True)
class Rules:
    """What the account and the settings say: its magic numbers, its accounting mode,
    and the slippage tolerance in points."""

    magic_numbers: frozenset[int] = frozenset()
    slippage_points: int = 10
    netting: bool = False

    def ours(self, magic: int) -> bool:
        return not self.magic_numbers or magic in self.magic_numbers


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row of the reconciliation: a ticket (or a signal, or a net symbol) and its class."""

    reason: ReconReason
    subject: str
    symbol: str
    direction: Side | None
    expected: tuple[ExpectedPosition, ...] = ()
    actual: ActualPosition | None = None
    close: ClosingDeal | None = None
    close_profit: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> ReconStatus:
        return self.reason.status

    @property
    def ticket(self) -> int | None:
        if self.actual is not None:
            return self.actual.ticket
        if self.close is not None:
            return self.close.position_id
        return next((e.ticket for e in self.expected if e.ticket is not None), None)

    @property
    def expected_volume(self) -> Decimal | None:
        """The net expected volume (unsigned); for one expected position, its volume."""
        if not self.expected:
            return None
        if len(self.expected) == 1:  # a hedging row's one position (every row of a sync but a net one)
            return self.expected[0].volume
        return abs(sum((e.direction.sign * e.volume for e in self.expected), Decimal("0")))


def subject_of(ticket: int | None, expected: Sequence[ExpectedPosition], symbol: str, netting: bool) -> str:
    """The part of the row's idempotency key that names what it is about."""
    if ticket is not None:
        return f"t{ticket}"
    if netting:
        return f"sym-{symbol}"
    return f"sig-{expected[0].signal_id}"


def tickets_to_look_up(
    expected: Sequence[ExpectedPosition], actual: Sequence[ActualPosition], netting: bool
) -> list[int]:
    """Tickets of expected positions not open in MT5: their deals say how they closed."""
    if netting:
        open_symbols = {p.symbol for p in actual}
        gone = [e.ticket for e in expected if e.ticket is not None and e.symbol not in open_symbols]
    else:
        open_tickets = {p.ticket for p in actual}
        gone = [e.ticket for e in expected if e.ticket is not None and e.ticket not in open_tickets]
    return sorted(set(gone))


def reconcile(
    expected: Sequence[ExpectedPosition],
    actual: Sequence[ActualPosition],
    symbols: Mapping[str, SymbolSpec],
    deals: Mapping[int, Sequence[ClosingDeal]],
    rules: Rules,
) -> list[Outcome]:
    """Classify the union of `expected` and `actual`; one outcome per position, sorted by subject."""
    pairing = _pair_netting if rules.netting else _pair_hedging
    outcomes = pairing(expected, actual, symbols, deals, rules)
    return sorted(outcomes, key=lambda o: o.subject)


def _pair_hedging(
    expected: Sequence[ExpectedPosition],
    actual: Sequence[ActualPosition],
    symbols: Mapping[str, SymbolSpec],
    deals: Mapping[int, Sequence[ClosingDeal]],
    rules: Rules,
) -> list[Outcome]:
    by_ticket = {p.ticket: p for p in actual}
    used: set[int] = set()
    out: list[Outcome] = []
    for e in sorted((e for e in expected if e.ticket is not None), key=lambda e: (e.ticket, e.signal_id)):
        assert e.ticket is not None
        position = by_ticket.get(e.ticket)
        if position is not None and e.ticket not in used:
            used.add(e.ticket)
            out.append(compare((e,), position, symbols[e.symbol], rules, matched_by="ticket"))
        else:
            out.append(gone((e,), deals.get(e.ticket, ()), symbols[e.symbol], rules))
    for e in sorted((e for e in expected if e.ticket is None), key=lambda e: e.signal_id):
        position = next(
            (
                p
                for p in sorted(actual, key=lambda p: p.ticket)
                if p.ticket not in used and (p.symbol, p.direction, p.magic) == (e.symbol, e.direction, e.magic)
            ),
            None,
        )
        if position is None:
            out.append(gone((e,), (), symbols[e.symbol], rules))
            continue
        used.add(position.ticket)
        out.append(compare((e,), position, symbols[e.symbol], rules, matched_by="symbol_direction_magic"))
    out += [unknown(p, rules) for p in actual if p.ticket not in used and rules.ours(p.magic)]
    return out


def _pair_netting(
    expected: Sequence[ExpectedPosition],
    actual: Sequence[ActualPosition],
    symbols: Mapping[str, SymbolSpec],
    deals: Mapping[int, Sequence[ClosingDeal]],
    rules: Rules,
) -> list[Outcome]:
    out: list[Outcome] = []
    for symbol in sorted({e.symbol for e in expected} | {p.symbol for p in actual}):
        group = tuple(sorted((e for e in expected if e.symbol == symbol), key=lambda e: e.signal_id))
        positions = sorted((p for p in actual if p.symbol == symbol), key=lambda p: p.ticket)
        if group and positions:
            out.append(compare(group, positions[0], symbols[symbol], rules, matched_by="symbol"))
            positions = positions[1:]
        elif group:
            found = [d for e in group if e.ticket is not None for d in deals.get(e.ticket, ())]
            out.append(gone(group, found, symbols[symbol], rules))
        out += [unknown(p, rules) for p in positions if rules.ours(p.magic)]
    return out


def compare(
    group: tuple[ExpectedPosition, ...], position: ActualPosition, spec: SymbolSpec, rules: Rules, *, matched_by: str
) -> Outcome:
    """partial_fill, slippage or matched: see the module's docstring."""
    expected_signed = sum((e.direction.sign * e.volume for e in group), Decimal("0"))
    volume_diff = position.direction.sign * position.volume - expected_signed
    entry = entry_price(group)
    slip = None if entry is None else (position.price_open - entry) / spec.point
    details: dict[str, Any] = {
        "matched_by": matched_by,
        "volume_diff": volume_diff,
        "slippage_points": None if slip is None else slip.quantize(Decimal("0.1")),
    }
    if abs(volume_diff) >= spec.volume_step:
        reason = ReconReason.PARTIAL_FILL
    elif slip is not None and abs(slip) > rules.slippage_points:
        reason = ReconReason.SLIPPAGE
    else:
        reason = ReconReason.MATCHED
    if len(group) > 1:
        details["signal_ids"] = [e.signal_id for e in group]
    return Outcome(
        reason,
        subject_of(position.ticket, group, position.symbol, rules.netting),
        position.symbol,
        position.direction,
        group,
        position,
        details=details,
    )


def entry_price(group: Sequence[ExpectedPosition]) -> Decimal | None:
    """The expected entry: the volume-weighted average of the group's entries when they all
    point one way (a netting position averages its entries so); None when they do not."""
    if len(group) == 1:  # the average of one entry is that entry (the same value, fewer steps)
        return group[0].entry_price
    if len({e.direction for e in group}) != 1:
        return None
    volume = sum((e.volume for e in group), Decimal("0"))
    return sum((e.volume * e.entry_price for e in group), Decimal("0")) / volume


def gone(group: tuple[ExpectedPosition, ...], deals: Sequence[ClosingDeal], spec: SymbolSpec, rules: Rules) -> Outcome:
    """An expected position not open in MT5: classified by its last closing deal."""
    first = group[0]
    direction = _net_direction(group)
    if not deals:
        return Outcome(
            ReconReason.MISSING,
            subject_of(first.ticket, group, first.symbol, rules.netting),
            first.symbol,
            direction,
            group,
            details={"close_reason": None},
        )
    last = max(deals, key=lambda d: (d.time, d.ticket))
    reason = close_reason(last, group, direction, spec, rules)
    details = {"close_reason": c.DEAL_REASONS.get(last.reason, str(last.reason)), "closing_deals": len(deals)}
    return Outcome(
        reason,
        subject_of(last.position_id, group, first.symbol, rules.netting),
        first.symbol,
        direction,
        group,
        close=last,
        close_profit=money(sum((d.profit for d in deals), Decimal("0"))),
        details=details,
    )


def close_reason(
    deal: ClosingDeal, group: Sequence[ExpectedPosition], direction: Side | None, spec: SymbolSpec, rules: Rules
) -> ReconReason:
    if deal.reason == c.DEAL_REASON_SO:
        return ReconReason.STOP_OUT
    if deal.reason == c.DEAL_REASON_SL:
        sl = next((e.sl for e in group if e.sl is not None), None)
        return ReconReason.GAP if beyond_stop(deal.price, sl, direction, spec, rules) else ReconReason.CLOSED_BY_SL_TP
    if deal.reason == c.DEAL_REASON_TP:
        return ReconReason.CLOSED_BY_SL_TP
    if deal.reason in MANUAL_REASONS:
        return ReconReason.MANUAL_CLOSE
    return ReconReason.MISSING


def beyond_stop(
    exit_price: Decimal, sl: Decimal | None, direction: Side | None, spec: SymbolSpec, rules: Rules
) -> bool:
    """Closed past its stop loss by more than the tolerance: the market gapped over it."""
    if sl is None or direction is None:
        return False
    tolerance = rules.slippage_points * spec.point
    if direction is Side.BUY:
        return exit_price < sl - tolerance
    return exit_price > sl + tolerance


def unknown(position: ActualPosition, rules: Rules) -> Outcome:
    return Outcome(
        ReconReason.UNKNOWN_POSITION,
        subject_of(position.ticket, (), position.symbol, rules.netting),
        position.symbol,
        position.direction,
        (),
        position,
        details={"magic": position.magic},
    )


def _net_direction(group: Sequence[ExpectedPosition]) -> Side | None:
    net = sum((e.direction.sign * e.volume for e in group), Decimal("0"))
    if net == 0:
        return None
    return Side.BUY if net > 0 else Side.SELL
