"""The regression test: changes of the hedged item (y) on changes of the hedging
instrument (x), by ordinary least squares (scipy.stats.linregress)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from core.canonical import normalise_decimal as text
from core.hedging.methods import Band, Outcome, ratio6, shown
from core.money import money


@dataclass(frozen=True, slots=True)
class RegressionTest:
    outcome: Outcome
    n: int
    slope: Decimal | None = None
    intercept: Decimal | None = None
    r_squared: Decimal | None = None
    p_value: Decimal | None = None
    reason: str = ""

    def figures(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "slope": self.slope,
            "intercept": self.intercept,
            "r_squared": self.r_squared,
            "p_value": self.p_value,
        }


def _floats(values: Sequence[Decimal]) -> Any:
    # scipy works in binary floating point: the exact Decimal changes are converted here,
    # once, from their text; the statistics come back below as rounded Decimals.
    return np.array([str(v) for v in values], dtype=np.float64)


def _decimal(value: Any) -> Decimal:
    return Decimal(format(value, ".17g"))


def regression(
    xs: Sequence[Decimal],
    ys: Sequence[Decimal],
    band: Band,
    r_squared_min: Decimal,
    p_value_max: Decimal,
    min_observations: int,
) -> RegressionTest:
    """ΔI = intercept + slope * ΔH + e, over the n paired changes given.

    pass when -band.high <= slope <= -band.low (a perfect hedge has slope -1),
    R² >= `r_squared_min` and the slope's two-sided p-value < `p_value_max`; fewer than
    `min_observations` pairs are `insufficient_data`; an instrument that did not move
    (all ΔH equal) is `inconclusive`. Decided on the fit's unrounded figures (binary64,
    17 significant digits); stored: slope and R² 6 dp half-even, p to 6 significant
    digits (9.9e-8 stays 9.9e-8), the intercept money 2 dp.
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys must pair up")
    if n < min_observations:
        return RegressionTest(Outcome.INSUFFICIENT_DATA, n, reason=f"{n} observations, fewer than {min_observations}")
    if len(set(xs)) == 1:
        return RegressionTest(Outcome.INCONCLUSIVE, n, reason="the instrument's MTM changes are all equal")
    from scipy import stats  # here, not at the top: scipy costs every worker process ~70 MiB

    fit = stats.linregress(_floats(xs), _floats(ys))
    if not np.isfinite([fit.slope, fit.rvalue, fit.pvalue]).all():
        return RegressionTest(Outcome.INCONCLUSIVE, n, reason="the regression is undefined for these changes")
    slope, r_squared, p_value = _decimal(fit.slope), _decimal(fit.rvalue) ** 2, _decimal(fit.pvalue)
    failed = []
    if not -band.high <= slope <= -band.low:
        failed.append(f"slope {shown(slope)} outside [{text(-band.high)}, {text(-band.low)}]")
    if r_squared < r_squared_min:
        failed.append(f"R² {shown(r_squared)} below {text(r_squared_min)}")
    if not p_value < p_value_max:
        failed.append(f"p {_significant(p_value)} not below {text(p_value_max)}")
    stored = (ratio6(slope), money(_decimal(fit.intercept)), ratio6(r_squared), Decimal(_significant(p_value)))
    if failed:
        return RegressionTest(Outcome.FAIL, n, *stored, "; ".join(failed))
    return RegressionTest(
        Outcome.PASS, n, *stored, f"slope {shown(slope)}, R² {shown(r_squared)}, p {_significant(p_value)}"
    )


def _significant(value: Decimal) -> str:
    """To 6 significant digits, as plain text (no exponent)."""
    return text(Decimal(format(value, ".6g")))
