"""Run locks: Redis with expiry in distributed mode; none in embedded mode, where the
database guard (one running attempt per job and date) is the lock."""

from __future__ import annotations

import redis

# Delete or extend only while the key still holds our token.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


class RedisRunLock:
    def __init__(self, client: redis.Redis, ttl_seconds: int, prefix: str = "") -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = ttl_seconds * 1000
        self._release = client.register_script(_RELEASE)
        self._refresh = client.register_script(_REFRESH)

    def acquire(self, name: str, owner: str) -> bool:
        return bool(self._client.set(self._prefix + name, owner, nx=True, px=self._ttl_ms))

    def refresh(self, name: str, owner: str) -> None:
        self._refresh(keys=[self._prefix + name], args=[owner, self._ttl_ms])

    def release(self, name: str, owner: str) -> None:
        self._release(keys=[self._prefix + name], args=[owner])

    def holder(self, name: str) -> str | None:
        value = self._client.get(self._prefix + name)
        return value.decode() if isinstance(value, bytes) else value


class NoRunLock:
    """Embedded mode: the database's partial unique index is the only guard needed."""

    def acquire(self, name: str, owner: str) -> bool:
        return True

    def refresh(self, name: str, owner: str) -> None:
        return None

    def release(self, name: str, owner: str) -> None:
        return None

    def holder(self, name: str) -> str | None:
        return None


class RedisDeliveryCounter:
    """Deliveries counted in Redis (one key per message, kept a day): every worker of the
    broker sees the same count."""

    def __init__(self, client: redis.Redis, prefix: str = "", keep_seconds: int = 24 * 3600) -> None:
        self._client, self._prefix, self._keep = client, prefix, keep_seconds

    def count(self, name: str) -> int:
        key = self._prefix + name
        with self._client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, self._keep)
            total, _ = pipe.execute()
        return int(total)
