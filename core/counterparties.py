"""Counterparty master data (seed 004 §6.1): the counterparties CSV format and its checks.

A counterparty is the legal entity a contract is traded with: its LEI (ISO 17442), the ISDA
master agreement it trades under, the netting set its contracts close out in, a credit
limit in one currency and the reference of its standing settlement instructions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from stdnum import lei as stdnum_lei
from stdnum.exceptions import ValidationError as StdnumError

from core.identifiers import PlainText, Ref
from core.money import MONEY_QUANTUM
from core.prices import CurrencyCode
from core.rows import PositiveDecimal, validated_rows
from core.values import ParseReport, RowError

COUNTERPARTY_HEADER = (
    "counterparty_id",
    "legal_name",
    "lei",
    "isda_agreement_ref",
    "netting_set",
    "credit_limit",
    "limit_currency",
    "settlement_instructions_ref",
)
#: Fields a reload may change (applied and audited with before and after); the LEI is the
#: entity itself: another LEI under the same id refuses the file.
FIXED_FIELDS = frozenset({"lei"})

#: ISO 17442: 18 upper-case ASCII letters or digits, then two check digits.
LEI_PATTERN = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")


def lei_problem(value: str) -> str | None:
    """Why `value` is not an LEI, or None: 20 characters, upper-case ASCII letters and
    digits, the last two digits checking the whole by ISO 7064 MOD 97-10 (the code read as
    a number, letters A=10 .. Z=35, leaves 1 modulo 97). The check is python-stdnum's."""
    if len(value) != 20:
        return f"{value!r} is not 20 characters"
    if not LEI_PATTERN.match(value):
        return f"{value!r}: 18 upper-case ASCII letters or digits, then 2 check digits"
    try:
        stdnum_lei.validate(value)
    except StdnumError:
        return f"{value} fails its check digits (ISO 7064 MOD 97-10)"
    return None


def _lei(value: str) -> str:
    problem = lei_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _cents(value: Decimal) -> Decimal:
    if value != value.quantize(MONEY_QUANTUM):
        raise ValueError("at most 2 decimals")
    return value.quantize(MONEY_QUANTUM)


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


Lei = Annotated[str, AfterValidator(_lei)]
OptionalRef = Annotated[Ref | None, BeforeValidator(_empty_is_none)]
LegalName = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]


class CounterpartyRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    counterparty_id: Ref
    legal_name: LegalName
    lei: Lei
    isda_agreement_ref: OptionalRef = None
    #: Empty: no netting agreement, every contract is its own netting set.
    netting_set: OptionalRef = None
    credit_limit: Annotated[PositiveDecimal, AfterValidator(_cents)]
    limit_currency: CurrencyCode
    settlement_instructions_ref: OptionalRef = None


def counterparty_rows(text: str | Iterable[str], file: str) -> Iterator[tuple[int, CounterpartyRow] | RowError]:
    """Each row in file order, or its RowError: a repeated id, a repeated LEI, or a netting
    set two counterparties name (a netting set is one counterparty's) is an error."""
    first: dict[tuple[str, str], int] = {}
    owner: dict[str, str] = {}
    for item in validated_rows(text, file, COUNTERPARTY_HEADER, "counterparties", CounterpartyRow):
        if isinstance(item, RowError):
            yield item
            continue
        line, row = item
        problem = None
        for name, value in (("counterparty_id", row.counterparty_id), ("lei", row.lei)):
            seen = first.setdefault((name, value), line)
            if seen != line:
                problem = f"{name}: {value} repeated (first at line {seen})"
                break
        if problem is None and row.netting_set is not None:
            holder = owner.setdefault(row.netting_set, row.counterparty_id)
            if holder != row.counterparty_id:
                problem = f"netting_set: {row.netting_set} is already {holder}'s"
        yield RowError(file, line, problem) if problem else (line, row)


def parse_counterparty_csv(text: str, file: str) -> ParseReport[CounterpartyRow]:
    report: ParseReport[CounterpartyRow] = ParseReport(file=file)
    for item in counterparty_rows(text, file):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            report.rows.append(item)
    return report


def changed_fields(stored: dict[str, object], incoming: CounterpartyRow) -> list[str]:
    """Names of the fields whose values differ (Decimals by value)."""
    return sorted(name for name, value in incoming.model_dump().items() if stored.get(name) != value)
