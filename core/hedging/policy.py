"""The hedge-accounting policy: defaults a designation takes when its file leaves a
parameter out (then locked in its dossier), and how FX forwards are valued: the rate
curves (flat rates, or term structures over them), what stands in for a missing forward
quote, and the functional currency of reporting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.hedging.curves import RateCurve, curves_from
from core.hedging.fx import RateSource

#: Flat annual simple rates (ACT/360) by currency, for discounting FX forwards with more
#: than 90 days to run. A starting point: set your treasury's policy rates.
DEFAULT_DISCOUNT_RATES: dict[str, Decimal] = {
    "USD": Decimal("0.05"),
    "EUR": Decimal("0.035"),
    "GBP": Decimal("0.05"),
    "CHF": Decimal("0.015"),
    "JPY": Decimal("0.001"),
}


@dataclass(frozen=True)
class HedgingPolicy:
    """Defaults of the dossier's method parameters, and valuation rates."""

    discount_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_DISCOUNT_RATES))
    #: Term structures (or flat rates) by currency, in text form (core.hedging.curves): each
    #: wins over its currency's flat rate.
    rate_curves: Mapping[str, Any] = field(default_factory=dict)
    #: What values an FX forward without a stored forward quote: cip, or spot_proxy.
    fx_method: RateSource = RateSource.CIP
    #: Each snapshot's MTM is also converted into this currency (None: not converted).
    functional_currency: str | None = None
    band_min: Decimal = Decimal("0.80")
    band_max: Decimal = Decimal("1.25")
    #: |ΔI| below this (in the legs' currency) makes a dollar-offset test inconclusive.
    materiality_floor: Decimal = Decimal("1000.00")
    #: Regression: the most recent changes used, and the fewest that make a test.
    regression_window: int = 60
    min_observations: int = 20
    r_squared_min: Decimal = Decimal("0.80")
    p_value_max: Decimal = Decimal("0.05")
    #: Critical terms: maturities at most this many days apart, notionals within this fraction.
    maturity_tolerance_days: int = 30
    notional_tolerance: Decimal = Decimal("0.05")
    #: Designations per effectiveness chunk task.
    chunk_size: int = 1000

    def curves(self) -> dict[str, RateCurve]:
        """The rate curve of each currency: its flat rate, or its term structure."""
        return curves_from(self.discount_rates, self.rate_curves)
