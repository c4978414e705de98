"""The guards' database work shared by a chunk's accounts (tasks.mt5.sync): read once in
the chunk's plan (guard states with their day anchors, open close intents, symbol states;
db.mt5.guard_chunk), looked at account by account while the terminal is read, and the
states of the decisions that write nothing else kept for the chunk's one write.

A decision that writes alerts or intents (a warning, an anchor, a trip, a latch that
holds, a market event) does not wait for the chunk: it is taken again on its row locked
and committed in its own unit of work before any order is sent (tasks.mt5.guard). A
quiet state only keeps the guard's marks (peak, day, last reading); written with the
chunk, it is written only if its row still holds what the decision saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from core.mt5.guard import GuardDecision
from core.mt5.guard_state import GuardState
from core.mt5.market_guard import SymbolState
from db.mt5.guard_chunk import GuardLook, StateWrite, guard_looks, market_looks, save_market_looks, save_states

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class GuardChunk:
    """What the guards of a chunk's accounts found before the terminal was asked, and the
    quiet writes waiting for the chunk's commit."""

    looks: dict[int, GuardLook] = field(default_factory=dict)
    market: dict[int, dict[str, SymbolState]] = field(default_factory=dict)
    states: list[StateWrite] = field(default_factory=list)
    market_states: dict[int, dict[str, SymbolState]] = field(default_factory=dict)

    @classmethod
    def read(cls, session: Session, account_ids: Sequence[int]) -> GuardChunk:
        return cls(guard_looks(session, account_ids), market_looks(session, account_ids))

    def state(self, account_id: int) -> GuardState | None:
        look = self.looks.get(account_id)
        return None if look is None else look.state

    def open_intents(self, account_id: int) -> int:
        look = self.looks.get(account_id)
        return 0 if look is None else look.open_intents

    def keep_state(self, account_id: int, login: int, decision: GuardDecision) -> None:
        self.states.append(StateWrite(account_id, login, self.state(account_id), decision.state))

    def keep_market(self, account_id: int, states: dict[str, SymbolState]) -> None:
        if states:
            self.market_states[account_id] = states

    def write(self, session: Session, *, now: datetime) -> None:
        """The quiet states, in the chunk's unit of work (the results' own)."""
        save_market_looks(session, self.market_states, now=now)
        for moved in save_states(session, self.states, now=now):
            log.warning("guard_decision_deferred", login=moved.login, reason="state moved meanwhile")


def quiet(seen: GuardState, decision: GuardDecision) -> bool:
    """A decision that writes nothing but its state: no event, no latch, the same status
    and episode (no audit event, no alert, no intent)."""
    state = decision.state
    return (
        not decision.events
        and not seen.latched
        and not state.latched
        and (state.status, state.episode) == (seen.status, seen.episode)
    )
