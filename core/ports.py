"""Protocols the outside world is reached through; adapters in workers/ implement them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from core.prices import PriceRow
from core.values import Counts, ParseReport


@dataclass(frozen=True, slots=True)
class PriceBatch:
    """Prices from one fetch (one file, one request), with where they came from."""

    source: str
    report: ParseReport[PriceRow]
    fetched_at: datetime
    file_sha256: str | None = None
    request_id: str | None = None
    #: Why the whole batch was refused (not a price file at all); nothing of it is written.
    rejected: str | None = None
    #: Why the file must be set aside unread or half-read (not a regular file, over its size
    #: limit, past its read deadline): quarantined with this reason, nothing of it written.
    poison: str | None = None
    #: When the source published these prices (a file's time, a response's field).
    published_at: datetime | None = None
    #: Set by file sources whose files are archived once processed: the file's path.
    location: str | None = None
    #: A large file streams: each call reads it again in bounded parts (good rows and the
    #: bad rows met on the way); `report` then holds none and gathers the bad rows as the
    #: parts are written. None: `report` holds everything.
    parts: Callable[[], Iterator[ParseReport[PriceRow]]] | None = None

    def reports(self) -> Iterator[ParseReport[PriceRow]]:
        """The batch's rows in parts: `report` alone, or the stream's parts."""
        if self.parts is None:
            yield self.report
            return
        for part in self.parts():
            self.report.errors.extend(part.errors)
            yield part


class PriceSource(Protocol):
    """Something that gives settlement prices: a drop folder, an HTTP endpoint, a file."""

    name: str

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        """The batches available for the nightly of `as_of`; `wanted` maps each symbol an
        active contract needs to its D-1 date (a source that answers requests asks for
        those; a folder or a file gives what it has)."""
        ...

    def acknowledge(self, batch: PriceBatch) -> None:
        """Called once the batch is committed (or was already): a folder archives its file."""
        ...


@runtime_checkable
class QuarantiningSource(Protocol):
    """A file source that can set a poison file aside (it failed to be written for a reason
    that a retry would not cure): the file leaves the drop folder with its reason beside it."""

    def quarantine(self, batch: PriceBatch, reason: str) -> None: ...


class RunLock(Protocol):
    """A lock with expiry that keeps one (job, as_of_date) from running twice at once."""

    def acquire(self, name: str, owner: str) -> bool:
        """Take the lock for `owner`; False when somebody else holds it."""
        ...

    def refresh(self, name: str, owner: str) -> None:
        """Push the expiry back while the owner still works."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Let go, only if `owner` still holds it."""
        ...

    def holder(self, name: str) -> str | None:
        """Who holds it now (its owner token), or None."""
        ...


class DeliveryCounter(Protocol):
    """Counts the deliveries of one message (by a name built from its task id), across
    workers and restarts: a message given back is counted again when it comes back."""

    def count(self, name: str) -> int:
        """Count one more delivery of `name`; the total so far, this one included."""
        ...


class LocalDeliveryCounter:
    """One process's count (embedded mode: a message is never given back)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def count(self, name: str) -> int:
        self._seen[name] = self._seen.get(name, 0) + 1
        return self._seen[name]


class RunObserver(Protocol):
    """Who is told what runs do (metrics): results counted in, chunks in flight, runs
    ended, a nightly late. Called after the commit that made it true."""

    def results_counted(self, job: str, counts: Counts) -> None: ...

    def chunk_started(self, job: str) -> None: ...

    def chunk_ended(self, job: str) -> None: ...

    def run_finished(
        self, job: str, status: str, seconds: float, price_missing: int, finished_at: datetime | None
    ) -> None: ...

    def nightly_late(self, as_of: date, status: str) -> None: ...


class NoRunObserver:
    """Nobody watches (tests, the CLI without metrics)."""

    def results_counted(self, job: str, counts: Counts) -> None:
        return None

    def chunk_started(self, job: str) -> None:
        return None

    def chunk_ended(self, job: str) -> None:
        return None

    def run_finished(
        self, job: str, status: str, seconds: float, price_missing: int, finished_at: datetime | None
    ) -> None:
        return None

    def nightly_late(self, as_of: date, status: str) -> None:
        return None


class Notifier(Protocol):
    """Delivers one alert (a webhook, the log); raises when it could not (the outbox keeps
    it). Shared: the guard's alerts and the late nightly's go through the same one."""

    def notify(self, kind: str, message: str, details: dict[str, object]) -> None: ...


class NoNotifier:
    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        return None
