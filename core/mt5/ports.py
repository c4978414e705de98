"""The other ports of the MT5 sync: where passwords come from, and who watches the syncs
(metrics). The gateway itself is core.mt5.gateway.Mt5Gateway."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.mt5.gateway import CredentialUnavailable, GatewayUnavailable, Mt5Gateway
from core.mt5.reconcile import Outcome
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import Secret

#: The gateway of a terminal, by name (one per process: the module is process-global).
GatewayFactory = Callable[[str], Mt5Gateway]


class CredentialStore(Protocol):
    def password(self, reference: str) -> Secret:
        """The password a reference points at; CredentialUnavailable when it cannot be read."""
        ...


class SyncObserver(Protocol):
    """Told about every account sync after its results are committed (metrics)."""

    def account_synced(
        self,
        terminal: str,
        login: int,
        currency: str,
        figures: SnapshotFigures,
        outcomes: Sequence[Outcome],
        seconds: float,
    ) -> None: ...

    def account_failed(self, terminal: str, login: int, kind: str, seconds: float) -> None: ...


class NoSyncObserver:
    def account_synced(
        self,
        terminal: str,
        login: int,
        currency: str,
        figures: SnapshotFigures,
        outcomes: Sequence[Outcome],
        seconds: float,
    ) -> None:
        return None

    def account_failed(self, terminal: str, login: int, kind: str, seconds: float) -> None:
        return None


def no_gateway(terminal: str) -> Mt5Gateway:
    """The default until the worker bootstrap configures one."""
    raise GatewayUnavailable(f"no MT5 gateway is configured for terminal {terminal}")


class NoCredentials:
    def password(self, reference: str) -> Secret:
        raise CredentialUnavailable(reference, "no credential store is configured")


class GuardObserver(Protocol):
    """Told of the guard's triggers, closes and order attempts (metrics)."""

    def guard_triggered(self, kind: str) -> None: ...

    def position_autoclosed(self, reason: str) -> None: ...

    def close_order_attempt(self, retcode: int | None) -> None: ...

    def intents_pending(self, count: int) -> None: ...


class NoGuardObserver:
    def guard_triggered(self, kind: str) -> None:
        return None

    def position_autoclosed(self, reason: str) -> None:
        return None

    def close_order_attempt(self, retcode: int | None) -> None:
        return None

    def intents_pending(self, count: int) -> None:
        return None


def no_fault(point: str) -> None:
    """The fault hook of production: nothing happens at any point."""
    return None


class OrderThrottle(Protocol):
    """The order-rate limit of one terminal (core.mt5.throttle): `wait` blocks until the
    next order_send may leave, and counts it as sent."""

    def wait(self) -> None: ...


class NoThrottle:
    def wait(self) -> None:
        return None


#: The order throttle of a terminal, by name (one per terminal and process).
ThrottleFactory = Callable[[str], OrderThrottle]


def no_throttle(terminal: str) -> OrderThrottle:
    """No order-rate limit (the default until the worker bootstrap configures one)."""
    return NoThrottle()
