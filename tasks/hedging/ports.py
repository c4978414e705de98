"""The hedge-accounting room's ports: its policy (the defaults dossiers lock, FX valuation
rates and method, effectiveness chunks), the chart of accounts entries post to and the
size of a postings chunk. Built by `workers.bootstrap`; looked up with
`hedging_ports()` at a task's entry only, then passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.hedging.accounts import DEFAULT_CHART, ChartOfAccounts
from core.hedging.policy import HedgingPolicy


@dataclass(frozen=True)
class HedgingPorts:
    policy: HedgingPolicy = field(default_factory=HedgingPolicy)
    chart: ChartOfAccounts = DEFAULT_CHART
    postings_chunk_size: int = 1000


_hedging: HedgingPorts | None = None


def configure(bundle: HedgingPorts) -> None:
    global _hedging
    _hedging = bundle


def hedging_ports() -> HedgingPorts:
    """The hedging bundle; for task entries only (below them it is passed)."""
    if _hedging is None:
        raise RuntimeError("hedgeops hedging ports are not configured (workers.bootstrap.bootstrap configures them)")
    return _hedging
