"""MT5 master data: accounts and expected positions (loaded, audited), and the reads the
sync needs. Results (snapshots, reconciliation logs) are in db.mt5.results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from core.errors import HedgeopsError, InvalidInput
from core.mt5.accounts import AccountSpec
from core.mt5.expected import ExpectedRow, changed_fields, refused_fields
from core.mt5.values import Account, ExpectedStatus
from core.mt5.values import ExpectedPosition as ExpectedValue
from core.values import Side
from db.audit import record_event
from db.mt5.models import ExpectedPosition, Mt5Account

ACCOUNT_FIELDS = ("terminal", "currency", "policy", "enabled", "magic_numbers", "credential_ref")


class AccountChanged(HedgeopsError):
    """An account added again with other values (accounts are changed on purpose only)."""


def account_value(row: Mt5Account | Row[Any]) -> Account:
    """An account's value from its ORM row or a row of its columns (accounts_by_ids)."""
    return Account(
        id=row.id,
        login=row.login,
        server=row.server,
        terminal=row.terminal,
        currency=row.currency,
        policy=row.policy,
        enabled=row.enabled,
        magic_numbers=tuple(row.magic_numbers),
        credential_ref=row.credential_ref,
        peak_equity=row.peak_equity,
    )


def add_account(session: Session, spec: AccountSpec, *, now: datetime) -> tuple[Account, bool]:
    """Add an account; (account, False) when the same one exists; AccountChanged when one
    with this login and server exists with other values."""
    found = session.scalars(
        select(Mt5Account).where(Mt5Account.login == spec.login, Mt5Account.server == spec.server)
    ).one_or_none()
    values = {**spec.model_dump(exclude={"login", "server"}), "magic_numbers": list(spec.magic_numbers)}
    if found is not None:
        diff = sorted(name for name in ACCOUNT_FIELDS if getattr(found, name) != values[name])
        if diff:
            raise AccountChanged(f"account {spec.login}@{spec.server} exists with other {', '.join(diff)}")
        return account_value(found), False
    row = Mt5Account(login=spec.login, server=spec.server, **values, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    record_event(
        session,
        "mt5_account_added",
        entity_type="mt5_account",
        entity_id=row.id,
        now=now,
        details={"login": spec.login, "server": spec.server, "terminal": spec.terminal, "enabled": spec.enabled},
    )
    return account_value(row), True


def list_accounts(session: Session) -> list[Account]:
    rows = session.scalars(select(Mt5Account).order_by(Mt5Account.terminal, Mt5Account.login))
    return [account_value(r) for r in rows]


def accounts_by_ids(session: Session, ids: Sequence[int]) -> list[Account]:
    """A chunk's accounts: a Core select of the columns (no ORM objects to build and track)."""
    stmt = select(*(getattr(Mt5Account, f.name) for f in fields(Account)))
    return [account_value(r) for r in session.execute(stmt.where(Mt5Account.id.in_(ids)).order_by(Mt5Account.id))]


def enabled_account_ids(session: Session, terminal: str, logins: Sequence[int] | None = None) -> list[int]:
    stmt = select(Mt5Account.id).where(Mt5Account.terminal == terminal, Mt5Account.enabled.is_(True))
    if logins is not None:
        stmt = stmt.where(Mt5Account.login.in_(logins))
    return list(session.scalars(stmt.order_by(Mt5Account.id)))


def servers_in_use(session: Session) -> list[str]:
    """The trade servers of the enabled accounts: each one's deals are read, so each needs
    its clock (HEDGEOPS_MT5_SERVER_TIME)."""
    stmt = select(Mt5Account.server).where(Mt5Account.enabled.is_(True)).distinct()
    return sorted(session.scalars(stmt))


def terminals_of(session: Session, logins: Sequence[int] | None = None) -> list[str]:
    """Terminals with enabled accounts (of `logins`, when given)."""
    stmt = select(Mt5Account.terminal).where(Mt5Account.enabled.is_(True)).distinct()
    if logins is not None:
        stmt = stmt.where(Mt5Account.login.in_(logins))
    return sorted(session.scalars(stmt))


# -- expected positions ----------------------------------------------------------------------


@dataclass(slots=True)
class ExpectedLoad:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    ticket_assigned: list[str] = field(default_factory=list)


def expected_value(row: ExpectedPosition) -> ExpectedValue:
    return ExpectedValue(
        id=row.id,
        signal_id=row.signal_id,
        approval_id=row.approval_id,
        symbol=row.symbol,
        direction=Side(row.direction),
        volume=row.volume,
        entry_price=row.entry_price,
        sl=row.sl,
        tp=row.tp,
        magic=row.magic,
        ticket=row.ticket,
    )


def open_expected(session: Session, account_ids: Sequence[int]) -> dict[int, list[ExpectedValue]]:
    """The open expected positions of each account (plain columns: this runs every sync)."""
    e = ExpectedPosition
    stmt = (
        select(
            e.account_id,
            e.id,
            e.signal_id,
            e.approval_id,
            e.symbol,
            e.direction,
            e.volume,
            e.entry_price,
            e.sl,
            e.tp,
            e.magic,
            e.ticket,
        )
        .where(e.account_id.in_(account_ids), e.status == ExpectedStatus.OPEN.value)
        .order_by(e.id)
    )
    found: dict[int, list[ExpectedValue]] = defaultdict(list)
    sides = {side.value: side for side in Side}
    # On the session's connection: plain rows, without the ORM's execution of a statement.
    for account_id, id_, signal, approval, symbol, direction, *rest in session.connection().execute(stmt):
        found[account_id].append(ExpectedValue(id_, signal, approval, symbol, sides[direction], *rest))
    return found


def load_expected(
    session: Session, rows: Sequence[tuple[int, ExpectedRow]], *, file: str, now: datetime
) -> ExpectedLoad:
    """Insert new expected positions and fill in tickets that became known; all or nothing:
    an unknown account or any other change refuses the whole file (InvalidInput, every
    bad line named), and the caller's unit of work rolls back."""
    accounts = _accounts_for(session, [row for _, row in rows])
    problems: list[str] = []
    load = ExpectedLoad()
    for line, row in rows:
        account = accounts.get((row.login, row.server)) or accounts.get((row.login, None))
        if account is None:
            problems.append(
                f"{file}:{line}: login {row.login}{'@' + row.server if row.server else ''}: "
                "no such account (or several: name the server)"
            )
            continue
        problem = _load_one(session, account, row, load, file, now)
        if problem:
            problems.append(f"{file}:{line}: {problem}")
    if problems:
        raise InvalidInput(f"{file}: {len(problems)} row(s) refused; nothing loaded", problems)
    return load


def _accounts_for(session: Session, rows: Sequence[ExpectedRow]) -> dict[tuple[int, str | None], Mt5Account]:
    """Accounts by (login, server), and by (login, None) where the login is unambiguous."""
    logins = sorted({row.login for row in rows})
    found: dict[tuple[int, str | None], Mt5Account] = {}
    by_login: dict[int, list[Mt5Account]] = defaultdict(list)
    for account in session.scalars(select(Mt5Account).where(Mt5Account.login.in_(logins))):
        found[(account.login, account.server)] = account
        by_login[account.login].append(account)
    for login, accounts in by_login.items():
        if len(accounts) == 1:
            found[(login, None)] = accounts[0]
    return found


def _load_one(
    session: Session, account: Mt5Account, row: ExpectedRow, load: ExpectedLoad, file: str, now: datetime
) -> str | None:
    stored = session.scalars(
        select(ExpectedPosition).where(
            ExpectedPosition.account_id == account.id, ExpectedPosition.signal_id == row.signal_id
        )
    ).one_or_none()
    name = f"{account.login}:{row.signal_id}"
    if stored is None:
        values = row.model_dump(exclude={"login", "server"})
        values["direction"] = row.direction.value
        session.add(
            ExpectedPosition(
                account_id=account.id,
                **values,
                status=ExpectedStatus.OPEN.value,
                source=file,
                created_at=now,
                updated_at=now,
            )
        )
        load.created.append(name)
        return None
    current = {
        n: getattr(stored, n)
        for n in (
            "signal_id",
            "approval_id",
            "symbol",
            "direction",
            "volume",
            "entry_price",
            "sl",
            "tp",
            "magic",
            "ticket",
        )
    }
    if refused := refused_fields(current, row):
        return f"signal {row.signal_id}: {', '.join(refused)} changed (only an unknown ticket may be filled in)"
    if changed_fields(current, row):
        assign_ticket(session, stored, row.ticket, now=now, source=file)
        load.ticket_assigned.append(name)
    else:
        load.existing.append(name)
    return None


def assign_ticket(
    session: Session,
    row: ExpectedPosition,
    ticket: int | None,
    *,
    now: datetime,
    source: str,
    batch_run_id: int | None = None,
) -> None:
    row.ticket = ticket
    row.updated_at = now
    record_event(
        session,
        "expected_position_ticket_assigned",
        entity_type="expected_position",
        entity_id=row.id,
        now=now,
        batch_run_id=batch_run_id,
        details={"signal_id": row.signal_id, "ticket": ticket, "source": source},
    )
