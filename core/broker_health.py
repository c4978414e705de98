"""What a monitor is told about the broker (`hedgeops check broker`): a Redis that may lose a
queued task is CRITICAL. Pure: the caller reads the server's facts and gives them.

A Redis broker keeps every queued and unacknowledged task in memory. It loses them when it
evicts keys (any `maxmemory-policy` but `noeviction`), when it restarts without persistence
(neither AOF nor RDB snapshots), and when it refuses writes for memory (no headroom). A
visibility timeout at or below the hard time limit re-delivers a task that is still running.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.monitoring import Check, CheckState

#: Below this share of free memory (%) the broker is CRITICAL.
MIN_HEADROOM_PCT = Decimal(10)


@dataclass(frozen=True, slots=True)
class BrokerFacts:
    """What the broker and the settings say. `rdb_save` is the `save` setting (`""`: no
    snapshots), None when the server refuses CONFIG (a managed Redis): then it cannot be told.
    `memory_limit` is `maxmemory`, or the machine's memory when `maxmemory` is 0."""

    maxmemory_policy: str
    aof_enabled: bool
    rdb_save: str | None
    used_memory: int
    memory_limit: int
    limit_is_maxmemory: bool
    visibility_timeout: int
    hard_time_limit: int

    @property
    def headroom_pct(self) -> Decimal | None:
        """Free memory under the limit in %, None when the limit is unknown (0)."""
        if self.memory_limit <= 0:
            return None
        free = max(0, self.memory_limit - self.used_memory)
        return (Decimal(100 * free) / Decimal(self.memory_limit)).quantize(Decimal("0.1"))


def check_broker(facts: BrokerFacts) -> Check:
    """CRITICAL with every problem named; WARNING when persistence cannot be told; else OK."""
    problems = []
    if facts.maxmemory_policy != "noeviction":
        problems.append(f"maxmemory-policy is {facts.maxmemory_policy}, not noeviction (queued tasks can be evicted)")
    if not facts.aof_enabled and facts.rdb_save == "":
        problems.append("persistence is off (appendonly no, save ''): a restart loses every queued task")
    if facts.visibility_timeout <= facts.hard_time_limit:
        problems.append(
            f"visibility timeout {facts.visibility_timeout} s is not above the hard time limit "
            f"{facts.hard_time_limit} s (a running task is delivered again)"
        )
    headroom = facts.headroom_pct
    limit = "maxmemory" if facts.limit_is_maxmemory else "the machine's memory (maxmemory 0)"
    if headroom is not None and headroom < MIN_HEADROOM_PCT:
        problems.append(f"memory headroom {headroom}% of {limit}, under {MIN_HEADROOM_PCT}%")
    if problems:
        return Check(CheckState.CRITICAL, "; ".join(problems))
    persistence = "AOF" if facts.aof_enabled else f"RDB (save {facts.rdb_save!r})" if facts.rdb_save else None
    free = f"memory headroom {headroom}% of {limit}" if headroom is not None else "memory limit unknown"
    summary = (
        f"noeviction, visibility timeout {facts.visibility_timeout} s > hard limit {facts.hard_time_limit} s, {free}"
    )
    if persistence is None:
        return Check(
            CheckState.WARNING, f"cannot tell whether RDB snapshots are on (CONFIG refused, AOF off); {summary}"
        )
    return Check(CheckState.OK, f"persistence {persistence}, {summary}")
