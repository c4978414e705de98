"""The FX forward lifecycle of seed 004 (§3.1): which status may follow which, and by which path.

    draft -> designated (a designation) | cancelled (the contracts file)
    designated -> active | rejected (the prospective test: passed | failed)
    active -> settled (a settlement) | de_designated (the contracts file: a person's decision)
    de_designated -> active (a new designation: re-designation) | settled (a settlement)
    rejected -> draft (the contracts file: retry)
    settled, cancelled: terminal

One addition to the seed's table: a de-designated forward still matures, so it may settle.
A step is checked with the path (`Via`) that makes it: the contracts file cannot designate,
activate, reject or settle a forward. Every step has its seed §4.4 audit event (`event_for`).
Commodity forwards keep their three statuses (active, cancelled, settled), moved by the
contracts file or a settlement.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.hedging.methods import Method
from core.values import ContractStatus, Instrument

S = ContractStatus


class Via(StrEnum):
    """The path a status change comes by."""

    CONTRACTS_FILE = "contracts_file"
    DESIGNATION = "designation"
    PROSPECTIVE_TEST = "prospective_test"
    SETTLEMENT = "settlement"


#: Every step of the FX lifecycle and the one path that may make it.
FX_STEPS: dict[tuple[ContractStatus, ContractStatus], Via] = {
    (S.DRAFT, S.DESIGNATED): Via.DESIGNATION,
    (S.DRAFT, S.CANCELLED): Via.CONTRACTS_FILE,
    (S.DESIGNATED, S.ACTIVE): Via.PROSPECTIVE_TEST,
    (S.DESIGNATED, S.REJECTED): Via.PROSPECTIVE_TEST,
    (S.ACTIVE, S.SETTLED): Via.SETTLEMENT,
    (S.ACTIVE, S.DE_DESIGNATED): Via.CONTRACTS_FILE,
    (S.DE_DESIGNATED, S.ACTIVE): Via.DESIGNATION,
    (S.DE_DESIGNATED, S.SETTLED): Via.SETTLEMENT,
    (S.REJECTED, S.DRAFT): Via.CONTRACTS_FILE,
}
FX_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    old: frozenset(new for (o, new) in FX_STEPS if o is old) for old in ContractStatus
}
COMMODITY_STATUSES = frozenset({S.ACTIVE, S.CANCELLED, S.SETTLED})
#: Statuses a new fx_forward may not be loaded in: only a designation, the prospective test
#: or a settlement reaches them.
FX_NOT_LOADED_NEW = frozenset({S.DESIGNATED, S.REJECTED, S.SETTLED})
#: Statuses in which a hedging instrument is under retrospective testing.
TESTED = frozenset({S.DESIGNATED, S.ACTIVE})
#: Statuses in which an instrument can no longer be designated.
TERMINAL = frozenset({S.SETTLED, S.CANCELLED, S.REJECTED})

#: Seed 004 §4.4 audit event names.
EVENT_PREFIX = "treasury.fx_contract."
CREATED = EVENT_PREFIX + "created"
AMENDED = EVENT_PREFIX + "amended"
CANCELLED = EVENT_PREFIX + "cancelled"
HEDGE_DESIGNATED = EVENT_PREFIX + "hedge_designated"
HEDGE_DE_DESIGNATED = EVENT_PREFIX + "hedge_de_designated"
EFFECTIVENESS_TESTED = EVENT_PREFIX + "effectiveness_tested"
SETTLED = EVENT_PREFIX + "settled"
#: A commodity contract's events (seed 000 contracts; seed 004 names FX contracts' only).
COMMODITY_CREATED = "contract_created"
COMMODITY_STATUS_CHANGED = "contract_status_changed"
COMMODITY_AMENDED = "contract_amended"
#: Fields a reload changes besides the status: every term of a draft fx_forward (its entry
#: is in progress, seed 004 §3.1), never its ref or instrument.
DRAFT_TERMS = frozenset(
    {
        "underlying",
        "side",
        "quantity",
        "unit",
        "entry_price",
        "currency",
        "trade_date",
        "maturity_date",
        "settlement_method",
        "fixing_source",
    }
)

_FX_EVENTS = {
    S.DESIGNATED: HEDGE_DESIGNATED,
    S.REJECTED: EFFECTIVENESS_TESTED,
    S.DE_DESIGNATED: HEDGE_DE_DESIGNATED,
    S.SETTLED: SETTLED,
    S.CANCELLED: CANCELLED,
    S.DRAFT: AMENDED,
}


def status_problem(instrument: Instrument, status: ContractStatus) -> str | None:
    """Why `status` is not a status of `instrument`, or None."""
    if instrument is Instrument.COMMODITY_FORWARD and status not in COMMODITY_STATUSES:
        return f"status: {status.value} is an fx_forward status; a commodity_forward is active, cancelled or settled"
    return None


def amendable(instrument: Instrument, status: ContractStatus) -> frozenset[str]:
    """The fields a reload may change on a stored contract in `status`: the status (by the
    lifecycle), and the terms of a draft fx_forward."""
    if instrument is Instrument.FX_FORWARD and status is S.DRAFT:
        return DRAFT_TERMS | {"status"}
    return frozenset({"status"})


def entry_problem(instrument: Instrument, status: ContractStatus) -> str | None:
    """Why a new contract may not be loaded in `status`, or None: a new fx_forward is not
    designated, rejected or settled by the contracts file (it starts draft, or active or
    de_designated when a book is taken over)."""
    if instrument is Instrument.FX_FORWARD and status in FX_NOT_LOADED_NEW:
        return f"status: a new fx_forward is not loaded {status.value} ({_reached_by(status)}); load it draft"
    return None


def _reached_by(status: ContractStatus) -> str:
    vias = sorted({via.value for (_o, new), via in FX_STEPS.items() if new is status})
    return f"{status.value} only through {' or '.join(v.replace('_', ' ') for v in vias)}"


def allowed_steps(old: ContractStatus) -> str:
    """The steps from `old`, each with its path: `cancelled (contracts_file), designated (designation)`."""
    steps = sorted(f"{new.value} ({via.value})" for (o, new), via in FX_STEPS.items() if o is old)
    return ", ".join(steps) or "none (terminal)"


def transition_problem(instrument: Instrument, old: ContractStatus, new: ContractStatus, via: Via) -> str | None:
    """Why a contract may not move from `old` to `new` by `via`, or None (staying is no move)."""
    if old is new:
        return None
    if instrument is not Instrument.FX_FORWARD:
        if via in (Via.CONTRACTS_FILE, Via.SETTLEMENT) and new in COMMODITY_STATUSES:
            return None
        return f"status {old.value} -> {new.value} is not a commodity_forward step by {via.value}"
    step = FX_STEPS.get((old, new))
    if step is None:
        allowed = allowed_steps(old)
        return f"status {old.value} -> {new.value} is not an fx_forward lifecycle step (from {old.value}: {allowed})"
    if step is not via:
        return (
            f"status {old.value} -> {new.value} is made by {step.value}, not by {via.value} "
            f"(from {old.value}: {allowed_steps(old)})"
        )
    return None


def settlement_problem(instrument: Instrument, status: ContractStatus) -> str | None:
    """Why a contract in `status` cannot be settled, or None (the settlement's check)."""
    if status is S.SETTLED:
        return "status: already settled"
    return transition_problem(instrument, status, S.SETTLED, Via.SETTLEMENT)


def event_for(instrument: Instrument, new: ContractStatus, via: Via) -> str:
    """The audit event of a move to `new` by `via` (seed 004 §4.4 for an fx_forward)."""
    if instrument is not Instrument.FX_FORWARD:
        return COMMODITY_STATUS_CHANGED
    if new is S.ACTIVE:
        return HEDGE_DESIGNATED if via is Via.DESIGNATION else EFFECTIVENESS_TESTED
    return _FX_EVENTS[new]


def prospective_passes(method: str, test: dict[str, Any]) -> bool:
    """Whether a designation's prospective test moves its forward on (designated -> active),
    or rejects it. Critical terms designations: every term matches. Dollar offset and
    regression measure the offset themselves from the MTM series, so a term that differs
    (a cross-hedge, another maturity) is theirs to judge; the prospective test asks only
    that the instrument offsets the item: opposite sides (IFRS 9 6.4.1(c)(i), B6.4.4: values
    that move in opposite directions)."""
    if method == Method.CRITICAL_TERMS.value:
        return bool(test["outcome"] == "pass")
    return bool(test["sides"]["match"])
