"""What the simulated broker remembers: each account's step, positions, deals, realised
P&L and unspent answers (AccountState), and, with a state file, all of it plus the journal
of every order_send kept on disk across processes (StateFile).

The file is JSON (floats: it is the broker's wire, not our books). Every change is a
read-modify-write under an exclusive flock of a sidecar `<file>.lock`, written to a
temporary file and moved into place with os.replace: a reader never sees half a file, and
two processes sharing a terminal never lose each other's orders. See docs/mt5.md."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.mt5.types import TradePosition
from workers.adapters.mt5.scenario import AccountSpecFile, DealSpec, OrderSpec, PositionSpec

VERSION = 1
Json = dict[str, Any]


@dataclass
class AccountState:
    """An account of the scenario as it moves through steps and orders."""

    spec: AccountSpecFile
    step: int = -1
    positions: list[PositionSpec] = field(default_factory=list)
    deals: list[DealSpec] = field(default_factory=list)
    #: Pending orders not deleted (shown from their from_step).
    pending: list[OrderSpec] = field(default_factory=list)
    #: Unspent answers: the account's (`order_send`), and each ticket's (`close_answers`).
    answers: list[int | str] = field(default_factory=list)
    close_answers: dict[int, list[int | str]] = field(default_factory=dict)
    #: P&L (profit + swap) realised by the simulator's closes: it has moved into the balance.
    realised: float = 0.0
    #: Kill points that fired already, as "<ticket>:<point>" (once per ticket and point).
    kills_fired: list[str] = field(default_factory=list)
    #: The open positions as tuples, for the step they were made at (orders and reloads clear it).
    shown: tuple[int, tuple[TradePosition, ...]] | None = None
    #: The state file's data this object last matched (restored or saved): unchanged data is
    #: not validated again. None: not in step with the file.
    saved: Json | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, spec: AccountSpecFile) -> AccountState:
        return cls(
            spec,
            positions=list(spec.positions),
            deals=list(spec.deals),
            pending=list(spec.orders),
            answers=list(spec.order_send),
            close_answers={t: list(a) for t, a in spec.close_answers.items()},
        )

    def open_positions(self) -> list[PositionSpec]:
        return [
            p for p in self.positions if p.from_step <= self.step and (p.until_step is None or self.step < p.until_step)
        ]

    def pending_orders(self) -> list[OrderSpec]:
        return [
            o for o in self.pending if o.from_step <= self.step and (o.until_step is None or self.step < o.until_step)
        ]

    def visible_deals(self) -> list[DealSpec]:
        return [d for d in self.deals if d.from_step <= self.step]

    def balance_operations(self, deal_type: int) -> float:
        """The sum of the visible balance operations of `deal_type` (BALANCE or CREDIT)."""
        return round(sum(d.profit for d in self.visible_deals() if d.type == deal_type), 2)

    def next_ticket(self) -> int:
        """Deals, orders and new positions share one counter, past every ticket in the account."""
        tickets = [d.ticket for d in self.deals] + [p.ticket for p in self.positions] + [o.ticket for o in self.pending]
        return 1 + max([*tickets, 0])

    def dump(self) -> Json:
        """This account as the state file keeps it (and now in step with it)."""
        self.saved = {
            "step": self.step,
            "realised": self.realised,
            "positions": [p.model_dump(mode="json") for p in self.positions],
            "deals": [d.model_dump(mode="json") for d in self.deals],
            "order_send": list(self.answers),
            "close_answers": {str(t): list(a) for t, a in self.close_answers.items()},
            "kills_fired": list(self.kills_fired),
        }
        if self.pending:  # absent: none (the format of accounts without pending orders is unchanged)
            self.saved["pending_orders"] = [o.model_dump(mode="json") for o in self.pending]
        return self.saved

    def restore(self, data: Json) -> None:
        if data == self.saved:
            return
        self.saved = data
        self.step = int(data["step"])
        self.realised = float(data["realised"])
        self.positions = [PositionSpec.model_validate(p) for p in data["positions"]]
        self.deals = [DealSpec.model_validate(d) for d in data["deals"]]
        self.pending = [OrderSpec.model_validate(o) for o in data.get("pending_orders", [])]
        self.answers = list(data["order_send"])
        self.close_answers = {int(t): list(a) for t, a in data["close_answers"].items()}
        self.kills_fired = list(data["kills_fired"])
        self.shown = None


def empty_state() -> Json:
    return {"version": VERSION, "orders": [], "accounts": {}}


class StateFile:
    """The broker's memory on disk, shared by every process (and gateway) that names it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        #: The bytes last read or written, and their state: a file this process wrote itself
        #: is not parsed again (the state object is the one it wrote).
        self._last: tuple[bytes, Json] | None = None

    def read_if_changed(self) -> Json | None:
        """The state as now on disk; None when there is none yet or it has not changed
        since this object last read or wrote it. No lock: os.replace makes reads atomic."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if self._last is not None and raw == self._last[0]:
            return None
        state = _parsed(raw, self.path)
        self._last = (raw, state)
        return state

    @contextmanager
    def locked(self) -> Iterator[Json]:
        """The current state, under the exclusive lock, for the caller to change; written
        back atomically when the block ends without an exception (else nothing is written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                raw = self.path.read_bytes() if self.path.exists() else None
                if raw is None:
                    state = empty_state()
                elif self._last is not None and raw == self._last[0]:
                    state = self._last[1]
                else:
                    state = _parsed(raw, self.path)
                yield state
            except BaseException:
                self._last = None  # the state object may be half changed: read the file again
                raise
            self._last = (self._write(state), state)

    def _write(self, state: Json) -> bytes:
        # Compact: with an indent json falls back to its pure-Python encoder, 100x slower.
        raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            # No fsync: a killed process loses no written page; only a host crash would,
            # and the simulator is nobody's book of record.
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return raw


def _parsed(raw: bytes, path: Path) -> Json:
    state = json.loads(raw)
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise ValueError(f"{path}: not a simulator state file of version {VERSION}")
    return state
