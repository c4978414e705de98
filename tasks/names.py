"""Every task's public name and every queue's name, in one place: beat, the CLI, `celery
call`, Flower and the chain of the nightly send tasks by these names, so they never change
with a module; the decorators, the app's queue declarations, beat, the router and the CLI's
consumer check name queues by `QueueName`, so a worker's `-Q` and a message's queue agree."""

from __future__ import annotations

from enum import StrEnum

FETCH_SETTLEMENT_PRICES = "hedgeops.prices.fetch_settlement_prices"
COMPUTE_MTM_SNAPSHOTS = "hedgeops.valuation.compute_mtm_snapshots"
COMPUTE_MTM_CHUNK = "hedgeops.valuation.compute_mtm_chunk"
COMPUTE_HEDGED_ITEM_CHUNK = "hedgeops.valuation.compute_hedged_item_chunk"
ASSESS_HEDGE_EFFECTIVENESS = "hedgeops.effectiveness.assess_hedge_effectiveness"
ASSESS_EFFECTIVENESS_CHUNK = "hedgeops.effectiveness.assess_effectiveness_chunk"
POST_HEDGE_ACCOUNTING_ENTRIES = "hedgeops.postings.post_hedge_accounting_entries"
POST_ENTRIES_CHUNK = "hedgeops.postings.post_entries_chunk"
RUN_NIGHTLY = "hedgeops.nightly.run_nightly"
ADVANCE_NIGHTLY = "hedgeops.nightly.advance_nightly"
CHECK_NIGHTLY_FRESHNESS = "hedgeops.nightly.check_nightly_freshness"
RUN_SYNC_CYCLE = "hedgeops.mt5.run_sync_cycle"
SYNC_ACCOUNTS = "hedgeops.mt5.sync_accounts"
RESEND_STALE_CHUNKS = "hedgeops.runs.resend_stale_chunks"

#: The modules that declare them (the Celery app imports these).
TASK_MODULES = (
    "tasks.prices",
    "tasks.valuation",
    "tasks.hedging.effectiveness",
    "tasks.hedging.postings",
    "tasks.nightly",
    "tasks.freshness",
    "tasks.mt5.cycle",
    "tasks.mt5.sync",
    "tasks.resend",
)

PUBLIC_NAMES = (
    FETCH_SETTLEMENT_PRICES,
    COMPUTE_MTM_SNAPSHOTS,
    COMPUTE_MTM_CHUNK,
    COMPUTE_HEDGED_ITEM_CHUNK,
    ASSESS_HEDGE_EFFECTIVENESS,
    ASSESS_EFFECTIVENESS_CHUNK,
    POST_HEDGE_ACCOUNTING_ENTRIES,
    POST_ENTRIES_CHUNK,
    RUN_NIGHTLY,
    ADVANCE_NIGHTLY,
    CHECK_NIGHTLY_FRESHNESS,
    RUN_SYNC_CYCLE,
    SYNC_ACCOUNTS,
    RESEND_STALE_CHUNKS,
)


class QueueName(StrEnum):
    """The queues (`str`s: Celery, kombu and Redis take them as the plain names)."""

    PRICES = "prices"
    VALUATION = "valuation"
    #: MT5 tasks sent without a terminal; a terminal's tasks go to `queue_of_terminal`.
    MT5 = "mt5"


def queue_of_terminal(terminal: str) -> str:
    """The queue of one MT5 terminal's worker (`mt5.<terminal>`): the MetaTrader5 module is
    process-global, so each terminal has one worker process (concurrency 1) on its own queue."""
    return f"{QueueName.MT5}.{terminal}"
