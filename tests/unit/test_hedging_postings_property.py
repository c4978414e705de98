"""Properties of the posting rules over random MTM series (Hypothesis): every entry balances
per currency, the reserve never exceeds min(|A|, |B|) in absolute value (6.5.11(a), to the
cent), and the OCI movements add up to the closing reserve, in both currencies."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.hedging.accounts import DEFAULT_CHART
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import JournalEntry, PostedState
from core.hedging.postings import FunctionalRate, LegMark, PostingTerms, Regime, Revaluation, revaluation
from core.hedging.releases import reserve_release
from core.money import money

CENTS = st.integers(min_value=-(10**9), max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))
RATES = st.integers(min_value=5000, max_value=20000).map(lambda r: Decimal(r).scaleb(-4))
STEP = st.tuples(CENTS, CENTS, RATES, st.booleans())
Step = tuple[Decimal, Decimal, Decimal, bool]  # H, I, the functional rate, direct or not
Scenario = tuple[PostingTerms, list[Step], int | None]  # terms, steps, the step de-designated after


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    hedge_type = draw(st.sampled_from([HedgeType.CASH_FLOW, HedgeType.NET_INVESTMENT, HedgeType.FAIR_VALUE]))
    ratio = draw(st.sampled_from(["1", "0.5", "0.8", "1.25", "0.333"]))
    functional = draw(st.sampled_from([None, "EUR"]))
    method = OciReleaseMethod.NONE if hedge_type is HedgeType.NET_INVESTMENT else OciReleaseMethod.RECYCLE_TO_PNL
    terms = PostingTerms(9, hedge_type, Decimal(ratio), "USD", functional, method, DEFAULT_CHART)
    steps = draw(st.lists(STEP, min_size=1, max_size=8))
    de_designated = draw(st.none() | st.integers(min_value=0, max_value=len(steps) - 1))
    return terms, steps, de_designated


def run(
    terms: PostingTerms, steps: list[tuple[Decimal, Decimal, Decimal, bool]], stop: int | None
) -> list[JournalEntry]:
    state = PostedState.at_designation(date(2026, 1, 1), Decimal(0), Decimal(0))
    entries = []
    for n, (h, i, rate, direct) in enumerate(steps):
        day = date(2026, 1, 2) + timedelta(days=n)
        regime = Regime.PROFIT_OR_LOSS if stop is not None and n > stop else Regime.HEDGE
        fx = FunctionalRate(rate, direct)
        inputs = Revaluation(day, day, LegMark(h, n, "h", fx.convert(h)), LegMark(i, 100 + n, "i"), regime, rate=fx)
        entries.append(revaluation(terms, state, inputs))
        state = entries[-1].state_after
    release = reserve_release(terms, state, state.as_of, state.as_of)
    return entries + ([release] if release is not None else [])


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_entries_balance_and_the_reserve_adds_up(scenario: Scenario) -> None:
    terms, steps, stop = scenario
    entries = run(terms, steps, stop)
    for entry in entries:
        assert sum(line.amount for line in entry.lines) == 0
        if terms.functional_currency is not None:
            assert sum(line.functional_amount or 0 for line in entry.lines) == 0
        state = entry.state_after
        a, b = state.instrument_change, state.item_change
        assert abs(state.reserve) <= money(min(abs(a), abs(b)))
        if a * b >= 0:
            assert state.reserve == 0
    closing = entries[-1].state_after
    oci = sum(-e.total(terms.reserve_role) for e in entries)
    assert oci == closing.reserve
    if terms.functional_currency is not None:
        functional = sum(
            -(line.functional_amount or 0) for e in entries for line in e.lines if line.role is terms.reserve_role
        )
        assert functional == (closing.reserve_functional or 0)
    if terms.hedge_type is HedgeType.FAIR_VALUE:
        assert closing.reserve == 0
