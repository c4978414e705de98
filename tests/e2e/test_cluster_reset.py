"""The shared cluster of a module: what one test leaves in the broker (a chunk requeued by
a pool process killed at the test's end, a cycle lock it never released) is gone before
the next test, and the exchange bindings the test process publishes by are kept."""

from __future__ import annotations

import json

import pytest

from tests import services
from tests.cluster import Cluster

pytestmark = pytest.mark.e2e


def test_reset_empties_queues_unacked_and_locks_and_keeps_routing(cluster: Cluster) -> None:
    prefix = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]
    client = services.redis_client(cluster.env["HEDGEOPS_BROKER_URL"])
    try:
        # What a killed breach chunk and its cycle leave: the message back on the queue, a
        # copy unacked, the cycle lock held by a run the next test's database never had.
        cluster.trigger("hedgeops.mt5.sync_accounts", run_id=2, terminal="t1", chunk_no=0, account_ids=[1])
        client.hset(prefix + "unacked", "tag-1", b"[]")
        client.zadd(prefix + "unacked_index", {"tag-1": 1.0})
        client.set(prefix + "hedgeops:lock:mt5_sync:t1", "token-of-run-2")
        assert client.llen(prefix + "mt5.t1") == 1

        removed = cluster.reset()

        left = ("mt5.t1", "unacked", "unacked_index", "hedgeops:lock:mt5_sync:t1")
        assert {prefix + k for k in left} <= set(removed)
        assert [
            k.decode()
            for k in client.scan_iter(match=prefix + "*")
            if not k.startswith((prefix + "_kombu.binding").encode())
        ] == []
        cluster.trigger("hedgeops.mt5.run_sync_cycle", terminal="t1")  # still routed to its queue
        [message] = client.lrange(prefix + "mt5.t1", 0, -1)
        assert json.loads(message)["headers"]["task"] == "hedgeops.mt5.run_sync_cycle"
    finally:
        client.close()
