"""The facts `hedgeops check broker` judges, read off a Redis broker: INFO for memory and
AOF, CONFIG GET for the RDB `save` setting (None when a managed Redis refuses CONFIG)."""

from __future__ import annotations

import redis

from core.broker_health import BrokerFacts


def read_broker_facts(client: redis.Redis, visibility_timeout: int, hard_time_limit: int) -> BrokerFacts:
    memory = client.info("memory")
    persistence = client.info("persistence")
    try:
        save: str | None = str(client.config_get("save").get("save", ""))
    except redis.exceptions.ResponseError:
        save = None
    maxmemory = int(memory.get("maxmemory", 0))
    return BrokerFacts(
        maxmemory_policy=str(memory.get("maxmemory_policy", "unknown")),
        aof_enabled=bool(int(persistence.get("aof_enabled", 0))),
        rdb_save=save,
        used_memory=int(memory.get("used_memory", 0)),
        memory_limit=maxmemory or int(memory.get("total_system_memory", 0)),
        limit_is_maxmemory=maxmemory > 0,
        visibility_timeout=visibility_timeout,
        hard_time_limit=hard_time_limit,
    )
