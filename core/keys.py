"""Idempotency keys: the one place they are built. Readable and deterministic."""

from __future__ import annotations

from datetime import date

from core.mtm_results import SNAPSHOT_KEY
from core.values import ExceptionReason, ObjectType


def mtm_snapshot_key(object_type: ObjectType, object_id: int, as_of: date) -> str:
    return SNAPSHOT_KEY.format(object_type=object_type.value, object_id=object_id, as_of_date=as_of.isoformat())


def mtm_exception_key(object_type: ObjectType, object_id: int, as_of: date, reason: ExceptionReason) -> str:
    return f"MTMX:{object_type.value}:{object_id}:{as_of.isoformat()}:{reason.value}"


def effectiveness_key(designation_id: int, version: int, as_of: date) -> str:
    """One retrospective test of version `version` of designation (hedge relationship) `designation_id`."""
    return f"EFF:{designation_id}:{version}:{as_of.isoformat()}"


def price_key(symbol: str, price_date: date, source: str) -> str:
    return f"PRICE:{symbol}:{price_date.isoformat()}:{source}"


def run_lock_key(job: str, as_of: date) -> str:
    """The name of the lock that keeps one (job, as_of_date) from running twice at once."""
    return f"hedgeops:lock:{job}:{as_of.isoformat()}"


def mt5_snapshot_key(account_id: int, sync_id: int) -> str:
    """The position snapshot of one account at one sync (the sync is its cycle's run id)."""
    return f"MT5SNAP:{account_id}:s{sync_id}"


def mt5_failed_snapshot_key(account_id: int, sync_id: int, attempt: int) -> str:
    """A failed attempt of one account's sync: one row per attempt, each with its error."""
    return f"MT5SNAP:{account_id}:s{sync_id}:failed{attempt}"


def reconciliation_key(account_id: int, sync_id: int, subject: str) -> str:
    """One reconciliation row: account, sync, and the ticket it is about (`t5001`; or
    `sig-<signal id>` before a ticket is known, `sym-<symbol>` for a netting symbol)."""
    return f"RECON:{account_id}:s{sync_id}:{subject}"


def mt5_cycle_lock_key(terminal: str) -> str:
    """The lock that keeps one terminal's sync cycle from overlapping itself (not per
    date: a cycle that runs over midnight still holds it)."""
    return f"hedgeops:lock:mt5_sync:{terminal}"


def close_intent_key(login: int, ticket: int, episode: int) -> str:
    """The close of one position in one execution episode of the drawdown guard
    (`CLOSE:5001234:88812:ep3`); it is also the comment of the close order (see
    core.mt5.closing.intent_comment for keys longer than MT5's 31 characters)."""
    return f"CLOSE:{login}:{ticket}:ep{episode}"


def removal_intent_key(login: int, ticket: int, episode: int) -> str:
    """The deletion of one pending order while the account is tripped (`REMOVE:5001234:88901:ep3`),
    also the comment of the TRADE_ACTION_REMOVE request. Apart from the closes' keys: a
    pending order that fills becomes a position of the same ticket, which is closed too."""
    return f"REMOVE:{login}:{ticket}:ep{episode}"


def latch_alert_key(login: int, kind: str, episode: int, ticket: int) -> str:
    """The alert of one position found open (`reopened`) or one pending order found
    (`pending_order`) at a sync of a tripped account: `DDALERT:5001234:reopened:ep3:88815`."""
    return drawdown_alert_key(login, kind, f"ep{episode}:{ticket}")


def drawdown_alert_key(login: int, kind: str, ref: str) -> str:
    """One drawdown alert: `DDALERT:5001234:warning:s812` (the sync that warned),
    `DDALERT:5001234:day_start_unknown:2026-11-20`; executions: execution_alert_key."""
    return f"DDALERT:{login}:{kind}:{ref}"


def market_alert_key(login: int, kind: str, symbol: str, time_msc: int) -> str:
    """A market guard event of one symbol of an account, by the tick that showed it (its
    time in ms): `DDALERT:5001234:market_gap:EURUSD:t1763935200000`,
    `DDALERT:5001234:spread_wide:XAUUSD:t1763935230000` (the tick a wide episode began)."""
    return drawdown_alert_key(login, kind, f"{symbol}:t{time_msc}")


def market_close_intent_key(login: int, ticket: int) -> str:
    """The close of a position because its symbol gapped (market guard, `close_on_gap`):
    `CLOSE:5001234:88812:gap`, once per position (a closed ticket never opens again)."""
    return f"CLOSE:{login}:{ticket}:gap"


def held_close_alert_key(intent_key: str) -> str:
    """A drawdown close held while its symbol's spread is wide: `DDALERT:5001234:close_held:88812:ep3`."""
    _, login, ticket, episode = intent_key.split(":", 3)
    return drawdown_alert_key(int(login), "close_held", f"{ticket}:{episode}")


def execution_alert_key(login: int, episode: int, outcome: str) -> str:
    """The alert of one outcome of an episode's execution (core.mt5.close_intents
    .execution_outcome): `DDALERT:5001234:execution:ep3:partially_closed` while closes go
    on, then `DDALERT:5001234:execution:ep3:positions_closed` (or `:failed`) once none is
    open; `...:ep3:would_close` in shadow mode. Each outcome is one alert, its first
    version. (Before, an episode had one key, `DDALERT:5001234:execution:ep3`, and its
    later outcomes were refused as conflicts of it; rows stored so keep that key.)"""
    return drawdown_alert_key(login, "execution", f"ep{episode}:{outcome}")


#: The posting types of hedge accounting entries (seed 004 Lock 3), the first part of their keys.
FX_REVALUATION = "FX_REVALUATION"  # a relationship's revaluation for one date (6.5.8, 6.5.11, 6.5.13)
FX_OCI_RELEASE = "FX_OCI_RELEASE"  # its reserve reclassified at the exposure date (6.5.11(d))
FX_OCI_NO_LONGER_EXPECTED = "FX_OCI_NO_LONGER_EXPECTED"  # reclassified to P&L at once (6.5.12(b))
FX_REVERSAL = "FX_REVERSAL"
FX_SETTLEMENT = "FX_SETTLEMENT"  # a contract settled at maturity: derecognised, cash booked (seed 004 §3.2.5)


def fx_posting_key(posting_type: str, relationship_id: int, as_of: date, sequence: int = 1) -> str:
    """One hedge accounting entry: `FX_REVALUATION-17-2026-11-30`, `FX_OCI_RELEASE-17-2026-12-15`,
    `FX_OCI_NO_LONGER_EXPECTED-17-2026-12-03`. A correction's new entry for the same date is
    sequence 2, 3, ..: `FX_REVALUATION-17-2026-11-30-2` (sequence 1 has no suffix)."""
    base = f"{posting_type}-{relationship_id}-{as_of.isoformat()}"
    return base if sequence == 1 else f"{base}-{sequence}"


def fx_reversal_key(original_key: str) -> str:
    """The reversal of one stored entry (an entry is reversed at most once):
    `FX_REVERSAL-FX_REVALUATION-17-2026-11-30`."""
    return f"{FX_REVERSAL}-{original_key}"


def posting_exception_key(relationship_id: int, as_of: date, reason: str) -> str:
    """Why a relationship in force on a date got no entry: `POSTX:17:2026-11-30:postings_blocked`."""
    return f"POSTX:{relationship_id}:{as_of.isoformat()}:{reason}"


def exposure_key(counterparty_id: str, as_of: date) -> str:
    """A counterparty's credit exposure of one date (core.exposure)."""
    return f"EXPOSURE:{counterparty_id}:{as_of.isoformat()}"


def limit_breach_alert_key(counterparty_id: str, as_of: date) -> str:
    """The entity of the audit event that a limit breach of a date was alerted: once per date."""
    return f"{counterparty_id}:{as_of.isoformat()}"


def fx_settlement_key(contract_id: int, settlement_date: date) -> str:
    """The settlement entry of one contract: `FX_SETTLEMENT-42-2026-12-31` (seed 004 §3.2.5)."""
    return f"{FX_SETTLEMENT}-{contract_id}-{settlement_date.isoformat()}"


def settlement_key(contract_id: int, settlement_date: date) -> str:
    """The proposed (then settled) settlement of one contract: `SETTLEMENT:42:2026-12-31`."""
    return f"SETTLEMENT:{contract_id}:{settlement_date.isoformat()}"


def settlement_exception_key(contract_id: int, as_of: date, reason: str) -> str:
    """Why a contract due to settle got no proposal on a date: `SETTLEX:42:2027-01-04:fixing_unavailable`."""
    return f"SETTLEX:{contract_id}:{as_of.isoformat()}:{reason}"
