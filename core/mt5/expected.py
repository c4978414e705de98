"""Expected positions as a CSV file (`hedgeops load expected-positions`): what the
trading system expects to be open on each account. Pure: it takes text."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from core.rows import PlainInt, PositiveDecimal, parse_rows
from core.values import ParseReport, RowError, Side

EXPECTED_HEADER = ("login", "signal_id", "symbol", "direction", "volume", "entry_price", "magic")
OPTIONAL_COLUMNS = ("server", "approval_id", "sl", "tp", "ticket")
#: What a reload may change: a ticket that becomes known. Any other change refuses the file.
MUTABLE_FIELDS = frozenset({"ticket"})


def empty_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Mt5Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._#+-]{0,31}$")]
OptionalPositive = Annotated[PositiveDecimal | None, BeforeValidator(empty_is_none)]
OptionalText = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=64)] | None, BeforeValidator(empty_is_none)
]


class ExpectedRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    login: Annotated[PlainInt, Field(gt=0, lt=2**63)]
    server: OptionalText = None
    signal_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    approval_id: OptionalText = None
    symbol: Mt5Symbol
    direction: Side
    volume: PositiveDecimal
    entry_price: PositiveDecimal
    sl: OptionalPositive = None
    tp: OptionalPositive = None
    magic: Annotated[PlainInt, Field(ge=0, lt=2**63)]
    ticket: Annotated[Annotated[PlainInt, Field(gt=0, lt=2**63)] | None, BeforeValidator(empty_is_none)] = None


def parse_expected_csv(text: str, file: str) -> ParseReport[ExpectedRow]:
    """Validate row by row; a (login, signal_id) repeated in the file is an error."""
    report = parse_rows(text, file, EXPECTED_HEADER, "expected positions", ExpectedRow)
    first_line: dict[tuple[int, str], int] = {}
    kept = []
    for line, row in report.rows:
        key = (row.login, row.signal_id)
        if key in first_line:
            report.errors.append(
                RowError(
                    file,
                    line,
                    f"signal_id: {row.signal_id} repeated for login {row.login} (first at line {first_line[key]})",
                )
            )
            continue
        first_line[key] = line
        kept.append((line, row))
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report


def changed_fields(stored: dict[str, object], incoming: ExpectedRow) -> list[str]:
    """Fields whose stored value differs from the file's (login and server identify the
    account and are not compared); a file that leaves the ticket out leaves it alone."""
    new = incoming.model_dump(exclude={"login", "server"})
    return sorted(
        name for name, value in new.items() if stored.get(name) != value and not (name == "ticket" and value is None)
    )


def refused_fields(stored: dict[str, object], incoming: ExpectedRow) -> list[str]:
    """The changes a reload may not make: all but a ticket becoming known."""
    return [
        name for name in changed_fields(stored, incoming) if not (name in MUTABLE_FIELDS and stored.get(name) is None)
    ]
