"""A worker freezes its start-up heap before its pool forks (workers.celery_app
.freeze_start_up_heap on `worker_init`): a full collection then no longer walks what lives
as long as the process, which put 180 ms between a breach and its closes
(benchmarks/README.md, guard.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from celery.signals import worker_init

from workers.celery_app import freeze_start_up_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process keeps its collector as it was


def test_a_worker_start_freezes_the_heap_made_so_far(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    freeze_start_up_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the app and its modules, not a handful of objects
    made_after = [object() for _ in range(1000)]
    assert gc.get_freeze_count() == frozen and made_after  # what comes later stays collectable
    receivers = [r() if isinstance(r, weakref.ReferenceType) else r for _, r in worker_init.receivers]
    assert freeze_start_up_heap in receivers  # what `celery worker` runs at its start
