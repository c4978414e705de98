"""The FX forward lifecycle of seed 004 (§3.1), as the contracts file may move it.

    draft -> designated | cancelled
    designated -> active (prospective test passed) | rejected (it failed)
    active -> settled | de_designated
    de_designated -> active (re-designated) | settled
    rejected -> draft (retry)
    settled, cancelled: terminal

One addition to the seed's table: a de-designated forward still matures, so it may settle.
Commodity forwards keep their three statuses (active, cancelled, settled), moved freely.
"""

from __future__ import annotations

from core.values import ContractStatus, Instrument

S = ContractStatus

FX_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    S.DRAFT: frozenset({S.DESIGNATED, S.CANCELLED}),
    S.DESIGNATED: frozenset({S.ACTIVE, S.REJECTED}),
    S.ACTIVE: frozenset({S.SETTLED, S.DE_DESIGNATED}),
    S.DE_DESIGNATED: frozenset({S.ACTIVE, S.SETTLED}),
    S.REJECTED: frozenset({S.DRAFT}),
    S.SETTLED: frozenset(),
    S.CANCELLED: frozenset(),
}
COMMODITY_STATUSES = frozenset({S.ACTIVE, S.CANCELLED, S.SETTLED})
#: Statuses in which a hedging instrument is under retrospective testing.
TESTED = frozenset({S.DESIGNATED, S.ACTIVE})
#: Statuses in which an instrument can no longer be designated.
TERMINAL = frozenset({S.SETTLED, S.CANCELLED, S.REJECTED})


def status_problem(instrument: Instrument, status: ContractStatus) -> str | None:
    """Why `status` is not a status of `instrument`, or None."""
    if instrument is Instrument.COMMODITY_FORWARD and status not in COMMODITY_STATUSES:
        return f"status: {status.value} is an fx_forward status; a commodity_forward is active, cancelled or settled"
    return None


def transition_problem(instrument: Instrument, old: ContractStatus, new: ContractStatus) -> str | None:
    """Why a contract may not move from `old` to `new`, or None."""
    if old is new or instrument is not Instrument.FX_FORWARD:
        return None
    if new in FX_TRANSITIONS[old]:
        return None
    allowed = ", ".join(sorted(s.value for s in FX_TRANSITIONS[old])) or "none (terminal)"
    return f"status {old.value} -> {new.value} is not an fx_forward lifecycle step (from {old.value}: {allowed})"
