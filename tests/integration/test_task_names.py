"""The public task names never change with a module: beat, the CLI, `celery call`, Flower
and saved scripts send tasks by these names."""

from __future__ import annotations

from typing import Any

from tasks import names

PUBLIC = {
    "hedgeops.prices.fetch_settlement_prices",
    "hedgeops.valuation.compute_mtm_snapshots",
    "hedgeops.valuation.compute_mtm_chunk",
    "hedgeops.valuation.compute_hedged_item_chunk",
    "hedgeops.effectiveness.assess_hedge_effectiveness",
    "hedgeops.effectiveness.assess_effectiveness_chunk",
    "hedgeops.postings.post_hedge_accounting_entries",
    "hedgeops.postings.post_entries_chunk",
    "hedgeops.nightly.run_nightly",
    "hedgeops.nightly.advance_nightly",
    "hedgeops.nightly.check_nightly_freshness",
    "hedgeops.mt5.run_sync_cycle",
    "hedgeops.mt5.sync_accounts",
    "hedgeops.runs.resend_stale_chunks",
}


def test_the_app_registers_exactly_the_public_task_names(runtime: Any) -> None:
    from celery import current_app

    registered = {
        name for name in current_app.tasks if name.startswith("hedgeops.") and not name.startswith("hedgeops.test.")
    }
    assert registered == PUBLIC == set(names.PUBLIC_NAMES)


def test_every_task_is_late_acked_and_requeued_when_its_worker_dies(runtime: Any) -> None:
    from celery import current_app

    for name in PUBLIC:
        task = current_app.tasks[name]
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), name
        assert task.autoretry_for, name  # every task has a retry policy value


def test_mt5_chunks_carry_their_own_retry_policy(runtime: Any) -> None:
    from celery import current_app

    from tasks.mt5.sync import SYNC_RETRY, AccountsFailed

    chunk = current_app.tasks[names.SYNC_ACCOUNTS]
    assert AccountsFailed in chunk.autoretry_for
    assert (
        (chunk.max_retries, chunk.retry_backoff, chunk.retry_backoff_max)
        == (5, 2, 60)
        == (SYNC_RETRY.max_retries, SYNC_RETRY.backoff, SYNC_RETRY.backoff_max)
    )
    assert current_app.tasks[names.COMPUTE_MTM_CHUNK].max_retries == 8
