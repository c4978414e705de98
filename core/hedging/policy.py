"""The hedge-accounting policy: defaults a designation takes when its file leaves a
parameter out (then locked in its dossier), and the flat discount rates of FX valuation."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

#: Flat annual simple rates (ACT/360) by currency, for discounting FX forwards with more
#: than 90 days to run. A starting point: set your treasury's policy rates.
DEFAULT_DISCOUNT_RATES: dict[str, Decimal] = {
    "USD": Decimal("0.05"), "EUR": Decimal("0.035"), "GBP": Decimal("0.05"),
    "CHF": Decimal("0.015"), "JPY": Decimal("0.001"),
}


@dataclass(frozen=True)
class HedgingPolicy:
    """Defaults of the dossier's method parameters, and valuation rates."""

    discount_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_DISCOUNT_RATES))
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
