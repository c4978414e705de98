"""The MT5 wiring of a process, from its settings: the gateway of each terminal (made on
first use, one per process), the MT5 room's ports, the cycle lock, the terminals' queues
and beat entries. Outside the adapters' room: it reads the settings of every room."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis

from core.mt5.gateway import Mt5Gateway
from core.mt5.ports import GatewayFactory
from core.ports import Notifier
from tasks.mt5.ports import Mt5Ports
from tasks.names import RUN_SYNC_CYCLE, QueueName, queue_of_terminal
from tasks.ports import RunPolicy
from workers.adapters.locks import RedisRunLock
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.adapters.mt5.server_clock import ServerClockGateway
from workers.adapters.mt5.simulated_clock import FileSimulatorClock
from workers.adapters.mt5.throttle import throttles
from workers.settings import Settings

if TYPE_CHECKING:
    from workers.adapters.mt5.scenario import Scenario


def make_gateway(settings: Settings, terminal: str, scenario: Scenario | None = None) -> Mt5Gateway:
    """The terminal's gateway; the simulator's on `scenario` (None: loaded from the settings)."""
    if settings.mt5_gateway == "metatrader5":
        from workers.adapters.mt5.metatrader5 import MetaTrader5Gateway

        return MetaTrader5Gateway(settings.mt5_terminal_path)
    if settings.mt5_gateway == "mt5linux":
        from workers.adapters.mt5.mt5linux import Mt5LinuxGateway

        return Mt5LinuxGateway(settings.mt5linux_host, settings.mt5linux_port, settings.mt5_terminal_path)
    from workers.adapters.mt5.simulator import SimulatedMt5Gateway

    return SimulatedMt5Gateway(
        scenario or simulator_scenario(settings),
        terminal,
        settings.mt5_simulator_state,
        simulator_clock(settings),
    )


def simulator_scenario(settings: Settings) -> Scenario:
    """The simulator's scenario file, parsed (a few MB for thousands of accounts: load it
    once per process and hand it on)."""
    from workers.adapters.mt5.scenario import DEMO_SCENARIO, load_scenario

    return load_scenario(settings.mt5_scenario or DEMO_SCENARIO)


def simulator_clock(settings: Settings) -> Callable[[], datetime] | None:
    """The simulated instant a test writes (HEDGEOPS_MT5_SIMULATOR_CLOCK, the simulator's
    only): the terminal's time and, through `process_clock`, the process's. None: unset."""
    if settings.mt5_gateway != "simulator" or settings.mt5_simulator_clock is None:
        return None
    return FileSimulatorClock(settings.mt5_simulator_clock)


def process_clock(settings: Settings, default: Callable[[], datetime]) -> Callable[[], datetime]:
    """The clock the tasks judge `now` by: the simulator's when a test set one, so a worker
    process and its simulated terminal share one time; else `default` (the wall clock)."""
    return simulator_clock(settings) or default


def server_clocks(settings: Settings, scenario: Scenario | None = None) -> dict[str, str]:
    """Each trade server's clock: HEDGEOPS_MT5_SERVER_TIME; with the simulator, the clock
    its scenario gives its own servers (unlisted: UTC) under the setting."""
    clocks: dict[str, str] = {}
    if settings.mt5_gateway == "simulator":
        scenario = scenario or simulator_scenario(settings)
        clocks = {a.server: scenario.server_time.get(a.server, "UTC") for a in scenario.accounts}
    return {**clocks, **settings.mt5_server_time}


def servers_without_clock(settings: Settings, servers: Iterable[str]) -> list[str]:
    known = server_clocks(settings)
    return sorted(s for s in set(servers) if s not in known)


def gateway_factory(settings: Settings, scenario: Scenario | None = None) -> GatewayFactory:
    """Gateways by terminal, made on first use and kept: the module is process-global.
    Each is wrapped by ServerClockGateway: broker times become UTC there and nowhere else.
    The simulator's scenario is read once, here, and shared by the terminals' gateways
    (immutable; a forked worker shares the parent's copy)."""
    made: dict[str, Mt5Gateway] = {}
    if scenario is None and settings.mt5_gateway == "simulator":
        scenario = simulator_scenario(settings)
    clocks = server_clocks(settings, scenario)

    def gateway(terminal: str) -> Mt5Gateway:
        if terminal not in made:
            made[terminal] = ServerClockGateway(make_gateway(settings, terminal, scenario), clocks)
        return made[terminal]

    return gateway


def mt5_bundle(settings: Settings, notifier: Notifier) -> Mt5Ports:
    """The MT5 room's ports: gateways, passwords by reference, metrics, the sync's knobs
    and the drawdown guard's policy, alerts, metrics and fault hook."""
    from workers.faults import fault_hook
    from workers.metrics import default_guard_observer, default_observer

    scenario = simulator_scenario(settings) if settings.mt5_gateway == "simulator" else None
    return Mt5Ports(
        gateways=gateway_factory(settings, scenario),
        credentials=EnvOrFileCredentials(),
        sync_observer=default_observer(),
        chunk_size=settings.mt5_sync_chunk_size,
        slippage_points=settings.mt5_slippage_points,
        guard_policy=settings.guard_policy(),
        guard_policies=dict(settings.guard_policies),
        market_policies=settings.market_policies(),
        server_times=server_clocks(settings, scenario),
        notifier=notifier,
        guard_observer=default_guard_observer(),
        fault=fault_hook(settings.fault_inject),
        unknown_after=timedelta(seconds=settings.guard_unknown_after_s),
        order_throttle=throttles(settings.mt5_orders_per_second),
    )


def cycle_policy(settings: Settings, lock_client: redis.Redis | None) -> RunPolicy:
    """The cycles' run family: the cycle lock (None: the ledger alone) and staleness."""
    lock = None
    if lock_client is not None:
        lock = RedisRunLock(lock_client, settings.mt5_cycle_stale_after, prefix=settings.redis_key_prefix)
    return RunPolicy(lock, timedelta(seconds=settings.mt5_cycle_stale_after))


def mt5_queues(settings: Settings) -> list[str]:
    """The queue of each configured terminal, and `mt5` (tasks sent without a terminal)."""
    return [QueueName.MT5, *(queue_of_terminal(t) for t in settings.mt5_terminal_names)]


def mt5_beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Beat sends each terminal's cycle every `mt5_sync_every` seconds to its queue. A cycle
    still running makes the next one a no-op; a message older than the period expires
    (a worker that was down does not run a backlog of cycles)."""
    return {
        f"mt5-sync-{t}": {
            "task": RUN_SYNC_CYCLE,
            "schedule": float(settings.mt5_sync_every),
            "kwargs": {"terminal": t, "trigger": "beat"},
            "options": {"queue": queue_of_terminal(t), "expires": settings.mt5_sync_every},
        }
        for t in settings.mt5_terminal_names
    }


def server_clock_problem(settings: Settings) -> str | None:
    """Why this process must not start (one line), or None: an enabled account's server
    has no clock setting (its deal times could not be placed). A database not reachable
    or not migrated yet is not this check's to judge (a sync then refuses that server)."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import session_factory
    from db.mt5.accounts import servers_in_use

    try:
        with session_factory(settings.database_url)() as session:
            servers = servers_in_use(session)
    except SQLAlchemyError:
        return None
    missing = servers_without_clock(settings, servers)
    if not missing:
        return None
    return (
        f"MT5 server {', '.join(missing)}: its deal times have no clock; set it in HEDGEOPS_MT5_SERVER_TIME "
        "(an IANA zone, UTC+HH:MM or ny-close)"
    )
