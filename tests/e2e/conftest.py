"""End-to-end fixtures: the cluster of real worker and beat processes."""

from tests.cluster import cluster, drop_dir, fresh_broker  # noqa: F401 - pytest fixtures
