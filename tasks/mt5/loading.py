"""MT5 master data on demand (the CLI): accounts, and expected positions from a CSV file."""

from __future__ import annotations

from core.errors import InvalidInput
from core.mt5.accounts import AccountSpec
from core.mt5.expected import parse_expected_csv
from core.mt5.values import Account
from db.mt5 import accounts
from tasks.ports import ports


def add_account(spec: AccountSpec) -> tuple[Account, bool]:
    """(the account, True) when added; (it, False) when it was there already, the same."""
    rt = ports()
    with rt.uow() as uow:
        result = accounts.add_account(uow.session, spec, now=rt.clock())
        uow.commit()
    return result


def list_accounts() -> list[Account]:
    with ports().uow() as uow:
        return accounts.list_accounts(uow.session)


def load_expected_csv(text: str, file: str) -> accounts.ExpectedLoad:
    """All or nothing: a bad row, an unknown account or a refused change, and nothing is written."""
    report = parse_expected_csv(text, file)
    if report.errors:
        raise InvalidInput(f"{file}: {len(report.errors)} bad row(s); nothing loaded", [str(e) for e in report.errors])
    rt = ports()
    with rt.uow() as uow:
        load = accounts.load_expected(uow.session, report.rows, file=file, now=rt.clock())
        uow.commit()
    return load
