"""Fault-injection fixtures: the cluster of real worker and beat processes, and a Redis
server of a scenario's own (a module that restarts Redis with or without AOF, or needs
another kind of broker, defines its own)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import cluster, drop_dir, fresh_broker  # noqa: F401 - pytest fixtures
from tests.faults.harness import OwnRedis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of the test's own on a free port, without AOF."""
    server = OwnRedis(tmp_path, aof=False)
    server.start()
    yield server
    server.stop()
