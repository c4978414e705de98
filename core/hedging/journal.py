"""Journal entries of hedge accounting: lines, the state a relationship's entries carry
forward, and the entry itself with its canonical payload (for the write path).

A line's `amount` is in the entry's transaction currency (the legs' quote currency),
debit positive, credit negative; `functional_amount` the same in the functional currency
(None when no functional currency is configured). An entry balances in both: the sum of
its amounts is zero and so is the sum of its functional amounts; JournalEntry refuses to
exist otherwise (UnbalancedEntryError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core import keys
from core.canonical import payload_sha256
from core.hedging.accounts import AccountRole
from core.hedging.dossier import HedgeType
from core.hedging.periods import period_of


class EntryKind(StrEnum):
    """What an entry does; the value is the first part of its key (core.keys)."""

    REVALUATION = keys.FX_REVALUATION
    OCI_RELEASE = keys.FX_OCI_RELEASE
    NO_LONGER_EXPECTED = keys.FX_OCI_NO_LONGER_EXPECTED
    SETTLEMENT = keys.FX_SETTLEMENT  # core.hedging.settlement


class UnbalancedEntryError(ValueError):
    """An entry whose debits and credits differ in a currency: a defect, never posted."""


@dataclass(frozen=True, slots=True)
class Source:
    """What a line was computed from: `mtm_snapshot` (ref: snapshot id, sha256: its
    payload_sha256), `effectiveness_result` (ref: its key), `journal_entry` (ref: key,
    sha256: the entry's payload hash), `no_longer_expected` (ref: who, when and why)."""

    kind: str
    ref: str
    sha256: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class JournalLine:
    account: str
    role: AccountRole
    amount: Decimal  # transaction currency: debit > 0, credit < 0
    functional_amount: Decimal | None
    sources: tuple[Source, ...] = ()

    @property
    def side(self) -> str:
        return "debit" if self.amount > 0 or (self.amount == 0 and (self.functional_amount or 0) > 0) else "credit"

    def negated(self) -> JournalLine:
        functional = None if self.functional_amount is None else -self.functional_amount
        return JournalLine(self.account, self.role, -self.amount, functional, self.sources)

    def as_payload(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "role": self.role,
            "amount": self.amount,
            "functional_amount": self.functional_amount,
            "sources": [s.as_payload() for s in self.sources],
        }


@dataclass(frozen=True, slots=True)
class PostedState:
    """What a relationship's entries have recognised so far, as of its latest entry (before
    the first entry: PostedState.at_designation). Quote currency unless `_functional`.

    instrument_mtm, item_mtm: the legs' MTM last read (the previous posting's, or the
    designation date's); instrument_change (A) and item_change (B, at the hedge ratio): the
    cumulative changes since designation; reserve: the OCI reserve, sign(A) x min(|A|, |B|)
    as last posted (credit balance positive); derivative: the carrying amount of the
    instrument (its full MTM once posted); item_adjustment: a fair value hedge's basis
    adjustment of the item."""

    as_of: date
    instrument_mtm: Decimal
    item_mtm: Decimal
    instrument_change: Decimal = Decimal(0)
    item_change: Decimal = Decimal(0)
    reserve: Decimal = Decimal(0)
    derivative: Decimal = Decimal(0)
    item_adjustment: Decimal = Decimal(0)
    derivative_functional: Decimal | None = None
    reserve_functional: Decimal | None = None

    @classmethod
    def at_designation(cls, designation_date: date, instrument_mtm: Decimal, item_mtm: Decimal) -> PostedState:
        """Before the first entry: the legs' MTM on the designation date; nothing carried."""
        return cls(designation_date, instrument_mtm, item_mtm)

    def as_payload(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PostedState:
        """Back from a stored entry's `state_after` (canonical text: dates ISO, decimals as text)."""

        def dec(name: str) -> Decimal | None:
            value = payload.get(name)
            return None if value is None else Decimal(str(value))

        return cls(
            date.fromisoformat(str(payload["as_of"])),
            **{name: dec(name) for name in cls.__slots__ if name != "as_of"},  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One balanced entry. `as_of` is the date its figures are for; `posting_date` the day
    it lands on (as_of, or the first day of the first open period: core.hedging.periods)."""

    key: str
    kind: EntryKind
    relationship_id: int
    hedge_type: HedgeType
    as_of: date
    posting_date: date
    currency: str
    functional_currency: str | None
    lines: tuple[JournalLine, ...]
    state_after: PostedState
    reverses: str | None = None  # a reversal: the key of the entry it reverses
    corrects: str | None = None  # a correction's new entry: the key of the entry it replaces
    narrative: str = ""
    figures: dict[str, Any] = field(default_factory=dict, hash=False)  # the rule's figures, for reading

    def __post_init__(self) -> None:
        if problems := balance_problems(self.lines, self.functional_currency is not None):
            raise UnbalancedEntryError(f"{self.key}: " + "; ".join(problems))

    @property
    def period(self) -> str:
        return period_of(self.posting_date)

    @property
    def payload(self) -> dict[str, Any]:
        """The business values: what makes a rerun `existing` and a different one a conflict."""
        return {
            "key": self.key,
            "kind": self.kind,
            "relationship_id": self.relationship_id,
            "hedge_type": self.hedge_type,
            "as_of_date": self.as_of,
            "posting_date": self.posting_date,
            "period": self.period,
            "currency": self.currency,
            "functional_currency": self.functional_currency,
            "lines": [line.as_payload() for line in self.lines],
            "state_after": self.state_after.as_payload(),
            "reverses": self.reverses,
            "corrects": self.corrects,
            "narrative": self.narrative,
            "figures": self.figures,
        }

    @property
    def sha256(self) -> str:
        return payload_sha256(self.payload)

    def total(self, role: AccountRole) -> Decimal:
        """The sum of this entry's lines on `role`, transaction currency, debit positive."""
        return sum((line.amount for line in self.lines if line.role is role), Decimal(0))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> JournalEntry:
        """A stored entry back from its canonical payload (decimals as text, dates ISO)."""
        return cls(
            str(payload["key"]),
            EntryKind(payload["kind"]),
            int(payload["relationship_id"]),
            HedgeType(payload["hedge_type"]),
            date.fromisoformat(str(payload["as_of_date"])),
            date.fromisoformat(str(payload["posting_date"])),
            str(payload["currency"]),
            payload.get("functional_currency"),
            tuple(_line_from_payload(line) for line in payload["lines"]),
            PostedState.from_payload(payload["state_after"]),
            reverses=payload.get("reverses"),
            corrects=payload.get("corrects"),
            narrative=str(payload.get("narrative") or ""),
            figures=dict(payload.get("figures") or {}),
        )


def _line_from_payload(line: Mapping[str, Any]) -> JournalLine:
    functional = line.get("functional_amount")
    return JournalLine(
        str(line["account"]),
        AccountRole(line["role"]),
        Decimal(str(line["amount"])),
        None if functional is None else Decimal(str(functional)),
        tuple(Source(s["kind"], s["ref"], s.get("sha256")) for s in line.get("sources") or []),
    )


def balance_problems(lines: tuple[JournalLine, ...], functional: bool) -> list[str]:
    """Why `lines` do not balance: debits = credits in the transaction currency and, when
    `functional`, in the functional currency (every line then has a functional amount)."""
    problems = []
    if (total := sum((line.amount for line in lines), Decimal(0))) != 0:
        problems.append(f"transaction currency: debits and credits differ by {total}")
    if functional:
        amounts = [line.functional_amount for line in lines]
        if any(a is None for a in amounts):
            problems.append("a line has no functional amount")
        elif (f_total := sum((a for a in amounts if a is not None), Decimal(0))) != 0:
            problems.append(f"functional currency: debits and credits differ by {f_total}")
    return problems
