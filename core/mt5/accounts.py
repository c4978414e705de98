"""MT5 accounts: the rules of their fields. A credential is referenced, never stored:
`env:NAME` (an environment variable of the worker) or `file:/absolute/path` (a secrets
file, e.g. a Docker or Kubernetes secret)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from core.keys import mt5_cycle_lock_key
from core.ledger import RunScope

#: Terminal names go into queue names (`mt5.<terminal>`) and ledger job names.
TERMINAL_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,22}$"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
CYCLE_JOB_PREFIX = "mt5_sync:"
#: The run family of sync cycles (their own lock and staleness).
CYCLE_FAMILY = "mt5_cycle"

TerminalName = Annotated[str, StringConstraints(pattern=TERMINAL_PATTERN)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class CredentialKind(StrEnum):
    ENV = "env"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class CredentialRef:
    kind: CredentialKind
    target: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.target}"


def parse_credential_ref(text: str) -> CredentialRef:
    """`env:NAME` or `file:/absolute/path`; anything else (a password, say) is refused
    without being repeated in the message."""
    kind, _, target = text.partition(":")
    if kind == CredentialKind.ENV.value and ENV_NAME.match(target):
        return CredentialRef(CredentialKind.ENV, target)
    if kind == CredentialKind.FILE.value and target.startswith("/") and len(target) <= 500 and "\n" not in target:
        return CredentialRef(CredentialKind.FILE, target)
    raise ValueError("credential reference must be env:NAME or file:/absolute/path (never the password itself)")


def checked_credential_ref(text: str) -> str:
    return str(parse_credential_ref(text))


def cycle_job(terminal: str) -> str:
    """The ledger's job name of a terminal's sync cycle: `mt5_sync:<terminal>`."""
    return f"{CYCLE_JOB_PREFIX}{terminal}"


def cycle_scope(terminal: str, today: date) -> RunScope:
    """A terminal's cycle: one running at a time whatever the date, under the cycle lock;
    any account failed for good fails it."""
    return RunScope(
        cycle_job(terminal),
        today,
        mt5_cycle_lock_key(terminal),
        family=CYCLE_FAMILY,
        any_date=True,
        exceptions_error="{n} account(s) failed to sync: {failures}",
    )


class AccountSpec(BaseModel):
    """An account as `hedgeops mt5 accounts add` takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    login: Annotated[int, Field(gt=0, lt=2**63)]
    server: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    terminal: TerminalName
    currency: CurrencyCode
    policy: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")] = "default"
    enabled: bool = True
    magic_numbers: tuple[Annotated[int, Field(ge=0, lt=2**63)], ...] = ()
    credential_ref: Annotated[str, AfterValidator(checked_credential_ref)]
