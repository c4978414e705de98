"""How a run values FX forwards, as its plan records it (`batch_runs.details`): the rate
curve of each currency, the method that stands in for a missing forward quote and the
functional currency. Every chunk of the run, and `verify` later, values with the plan's,
not with its own process's settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.hedging.curves import RateCurve, curves_as_text, curves_from, curves_from_text
from core.hedging.functional import conversion_symbols
from core.hedging.fx import RateSource
from core.hedging.policy import HedgingPolicy
from core.run_details import details_version


@dataclass(frozen=True)
class FxValuationPlan:
    curves: Mapping[str, RateCurve] = field(default_factory=dict)
    method: RateSource = RateSource.CIP
    functional_currency: str | None = None

    @classmethod
    def of_policy(cls, policy: HedgingPolicy) -> FxValuationPlan:
        return cls(policy.curves(), policy.fx_method, policy.functional_currency)

    def as_details(self) -> dict[str, Any]:
        return {
            "rate_curves": curves_as_text(self.curves),
            "fx_method": self.method.value,
            "functional_currency": self.functional_currency,
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> FxValuationPlan:
        """The plan a run recorded. Runs planned before curves (only `discount_rates`,
        flat) valued every FX forward by spot proxy: so are they read back."""
        details_version(details)
        if "rate_curves" not in details:
            flat = {c: v for c, v in (details.get("discount_rates") or {}).items()}
            return cls(curves_from({}, flat), RateSource.SPOT_PROXY, None)
        return cls(
            curves_from_text(details["rate_curves"]),
            RateSource(details["fx_method"]),
            details.get("functional_currency"),
        )

    def conversion_symbols(self, currencies: Iterable[str]) -> set[str]:
        """The pairs that convert these currencies into the functional one (none without it)."""
        if self.functional_currency is None:
            return set()
        return {
            symbol
            for c in currencies
            if c != self.functional_currency
            for symbol in conversion_symbols(c, self.functional_currency)
        }
