"""The guards' rows of a chunk at once (db.mt5.guard_chunk), on SQLite and PostgreSQL: one
look at every account's state and open intents, and the quiet states written only where
their rows still hold what the decision saw."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.mt5.accounts import AccountSpec
from core.mt5.guard_state import GuardState, GuardStatus
from core.mt5.market_guard import SymbolState
from db.engine import session_factory
from db.models import AuditEvent
from db.mt5 import guard as rows
from db.mt5.accounts import add_account
from db.mt5.guard_chunk import StateWrite, guard_looks, market_looks, save_market_looks, save_states
from db.mt5.guard_models import GuardStateRow

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def session(db_url: str) -> Session:
    with session_factory(db_url)() as s:
        yield s


def accounts(session: Session, *logins: int) -> list[int]:
    ids = []
    for login in logins:
        spec = AccountSpec(login=login, server="Sim", terminal="t1", currency="USD", credential_ref="env:MT5_PW")
        ids.append(add_account(session, spec, now=NOW)[0].id)
    session.commit()
    return ids


def intent(account_id: int, login: int, ticket: int) -> rows.IntentSpec:
    return rows.IntentSpec(
        f"CLOSE:{login}:{ticket}:ep1", account_id, login, "t1", ticket, "EURUSD", 0, Decimal("0.1"), 1, 1, "enforce"
    )


def stored(session: Session, account_id: int) -> GuardState | None:
    session.expire_all()
    found = session.scalars(select(GuardStateRow).where(GuardStateRow.account_id == account_id)).one_or_none()
    return None if found is None else rows.state_from_dict(found.state)


class TestLooks:
    def test_states_and_open_intents_of_every_account_at_once(self, session: Session) -> None:
        a, b = accounts(session, 7001, 7002)
        peak = GuardState(peak_equity=Decimal("10000.00"))
        rows.save_state(session, a, 7001, peak, now=NOW)
        rows.add_intents(session, [intent(a, 7001, 11), intent(a, 7001, 12)], now=NOW)
        session.commit()

        looks = guard_looks(session, [a, b])

        assert looks[a].state == peak
        assert looks[a].open_intents == 2
        assert looks[b].state is None
        assert looks[b].open_intents == 0

    def test_symbol_states_round_trip(self, session: Session) -> None:
        a, b = accounts(session, 7003, 7004)
        state = SymbolState(Decimal("1.086"), 1_700_000_000_000, (Decimal("0.0001"),))
        save_market_looks(session, {a: {"EURUSD": state}}, now=NOW)
        save_market_looks(session, {a: {"EURUSD": SymbolState(Decimal("1.09"))}}, now=NOW)  # changed in place
        session.commit()

        assert market_looks(session, [a, b]) == {a: {"EURUSD": SymbolState(Decimal("1.09"))}, b: {}}


class TestQuietWrites:
    def test_unchanged_rows_are_written_moved_ones_left(self, session: Session) -> None:
        a, b = accounts(session, 7005, 7006)
        seen = GuardState(peak_equity=Decimal("10000.00"))
        rows.save_state(session, a, 7005, seen, now=NOW)
        session.commit()
        moved = GuardState(status=GuardStatus.ARMED, episode=1, peak_equity=Decimal("9000.00"))  # a reset meanwhile
        rows.save_state(session, a, 7005, moved, now=NOW)
        session.commit()
        new = GuardState(peak_equity=Decimal("10100.00"), last_equity=Decimal("10100.00"))

        left = save_states(session, [StateWrite(a, 7005, seen, new), StateWrite(b, 7006, None, new)], now=NOW)
        session.commit()

        assert [w.account_id for w in left] == [a]
        assert stored(session, a) == moved
        assert stored(session, b) == new

    def test_a_first_state_is_audited_and_a_later_one_changes_it_in_place(self, session: Session) -> None:
        (a,) = accounts(session, 7007)
        first = GuardState(peak_equity=Decimal("10000.00"))
        assert save_states(session, [StateWrite(a, 7007, None, first)], now=NOW) == []
        session.commit()
        later = GuardState(peak_equity=Decimal("10500.00"))
        assert save_states(session, [StateWrite(a, 7007, first, later)], now=NOW) == []
        session.commit()

        assert stored(session, a) == later
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "guard_state_changed", AuditEvent.entity_id == str(a))
        ).all()
        assert [e.details["to"] for e in events] == [["armed", 0]]
