"""Hedge accounting entries on hand-worked month-ends (IFRS 9 6.5.8-6.5.14). Each figure is
worked out beside its case; amounts are USD, debit positive, credit negative.

Notation: H, I the legs' MTM; A = H(D) - H(designation), B = ratio x (I(D) - I(designation));
reserve = sign(A) x min(|A|, |B|) when A and B offset (6.5.11(a)); OCI movement = reserve -
previous reserve (6.5.11(b)); ineffectiveness = ΔA - OCI movement (6.5.11(c))."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.canonical import canonical_form
from core.hedging.accounts import DEFAULT_CHART, AccountRole
from core.hedging.corrections import correction, reverse
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import EntryKind, JournalEntry, PostedState, Source
from core.hedging.periods import Period, posting_date
from core.hedging.postings import (
    FunctionalRate,
    LegMark,
    PostingInputError,
    PostingTerms,
    Regime,
    Revaluation,
    regime_on,
    revaluation,
)
from core.hedging.releases import NoLongerExpected, no_longer_expected_release, reserve_release
from core.hedging.reserve import carried, roll_forward

D = Decimal
R = AccountRole
DESIGNATED = date(2026, 8, 31)
SEP, OCT, NOV, DEC = date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 30), date(2026, 12, 31)
START = PostedState.at_designation(DESIGNATED, D(0), D(0))


def terms(
    hedge_type: HedgeType = HedgeType.CASH_FLOW,
    method: OciReleaseMethod = OciReleaseMethod.RECYCLE_TO_PNL,
    ratio: str = "1",
    functional: str | None = None,
) -> PostingTerms:
    return PostingTerms(17, hedge_type, D(ratio), "USD", functional, method, DEFAULT_CHART)


def mark(mtm: str, snapshot: int, functional: str | None = None) -> LegMark:
    return LegMark(D(mtm), snapshot, f"sha-{snapshot}", None if functional is None else D(functional))


def reval(
    t: PostingTerms, state: PostedState, day: date, h: str, i: str | None, regime: Regime = Regime.HEDGE
) -> JournalEntry:
    item = None if i is None else mark(i, 200 + day.month)
    inputs = Revaluation(day, day, mark(h, 100 + day.month), item, regime, f"EFF:17:1:{day}")
    return revaluation(t, state, inputs)


def by_role(entry: JournalEntry) -> dict[AccountRole, Decimal]:
    """Net amount per account role (two lines on one role add up)."""
    out: dict[AccountRole, Decimal] = {}
    for line in entry.lines:
        out[line.role] = out.get(line.role, D(0)) + line.amount
    return {role: amount for role, amount in out.items() if amount != 0}


def chain(t: PostingTerms, marks: list[tuple[date, str, str]]) -> list[JournalEntry]:
    entries, state = [], START
    for day, h, i in marks:
        entries.append(reval(t, state, day, h, i))
        state = entries[-1].state_after
    return entries


# Four month-ends of a cash flow hedge (ratio 1, designated 31 Aug with H = I = 0); the
# exposure date is 31 Dec. Each row: date, H, I, then the entry by role.
ASSET, LIABILITY = R.DERIVATIVE_ASSET, R.DERIVATIVE_LIABILITY
CFH, INEFF = R.CASH_FLOW_HEDGE_RESERVE, R.HEDGE_INEFFECTIVENESS
CASH_FLOW = [
    # over-hedge: A = 1,200, B = -1,000: reserve = min(1,200, 1,000) = 1,000 (6.5.11(a));
    # OCI 1,000 (6.5.11(b)); ineffectiveness = 1,200 - 1,000 = 200 to P&L (6.5.11(c))
    (SEP, "1200", "-1000", {ASSET: D(1200), CFH: D(-1000), INEFF: D(-200)}),
    # under-hedge: A = 1,500, B = -1,800: reserve = min(1,500, 1,800) = 1,500, all of A in OCI;
    # OCI = 1,500 - 1,000 = 500; ineffectiveness = ΔA - OCI = 300 - 500 = -200: the reserve
    # catches up and last month's 200 comes back out of P&L (6.5.11(a)-(c))
    (OCT, "1500", "-1800", {ASSET: D(300), CFH: D(-500), INEFF: D(200)}),
    # the MTM changes sign: A = -400, B = 350: reserve = -min(400, 350) = -350; OCI = -350 -
    # 1,500 = -1,850; ΔA = -1,900; ineffectiveness = -1,900 + 1,850 = -50. The derivative
    # goes from an asset of 1,500 to a liability of 400: Cr asset 1,500, Cr liability 400
    (NOV, "-400", "350", {ASSET: D(-1500), LIABILITY: D(-400), CFH: D(1850), INEFF: D(50)}),
    # A = -600, B = 580: reserve = -580; OCI = -580 + 350 = -230; ΔA = -200; ineff = -200 + 230 = 30
    (DEC, "-600", "580", {LIABILITY: D(-200), CFH: D(230), INEFF: D(-30)}),
]  # fmt: skip


class TestCashFlowHedge:
    @pytest.mark.parametrize("month", range(4), ids=["over-hedge", "under-hedge", "sign-change", "exposure-date"])
    def test_month_end_entries(self, month: int) -> None:
        entries = chain(terms(), [(d, h, i) for d, h, i, _ in CASH_FLOW])
        assert by_role(entries[month]) == CASH_FLOW[month][3]

    def test_the_reserve_and_the_derivative_carried(self) -> None:
        states = [e.state_after for e in chain(terms(), [(d, h, i) for d, h, i, _ in CASH_FLOW])]
        # reserve: 1,000, 1,500, -350, -580; the derivative carried at its full MTM H
        assert [s.reserve for s in states] == [D(1000), D(1500), D(-350), D(-580)]
        assert [s.derivative for s in states] == [D(1200), D(1500), D(-400), D(-600)]

    def test_keys_and_sources(self) -> None:
        entry = chain(terms(), [(SEP, "1200", "-1000")])[0]
        assert entry.key == "FX_REVALUATION-17-2026-09-30"
        reserve = next(line for line in entry.lines if line.role is R.CASH_FLOW_HEDGE_RESERVE)
        assert reserve.account == "3510"
        assert [(s.kind, s.ref, s.sha256) for s in reserve.sources] == [
            ("mtm_snapshot", "109", "sha-109"),
            ("mtm_snapshot", "209", "sha-209"),
            ("effectiveness_result", "EFF:17:1:2026-09-30", None),
        ]

    def test_recycled_to_pnl_at_the_exposure_date(self) -> None:
        state = chain(terms(), [(d, h, i) for d, h, i, _ in CASH_FLOW])[-1].state_after
        release = reserve_release(terms(), state, DEC, DEC)
        assert release is not None and release.key == "FX_OCI_RELEASE-17-2026-12-31"
        # the reserve of -580 (a loss held in OCI) to P&L: Cr reserve 580, Dr FX gain/loss 580 (6.5.11(d)(ii))
        assert by_role(release) == {R.CASH_FLOW_HEDGE_RESERVE: D(-580), R.FX_GAIN_LOSS: D(580)}
        assert release.state_after.reserve == 0

    def test_basis_adjustment_at_the_exposure_date(self) -> None:
        t = terms(method=OciReleaseMethod.BASIS_ADJUSTMENT)
        state = chain(t, [(d, h, i) for d, h, i, _ in CASH_FLOW])[-1].state_after
        release = reserve_release(t, state, DEC, DEC)
        # the same -580 into the cost of the non-financial item, not through OCI (6.5.11(d)(i)):
        # Cr reserve 580, Dr inventory basis adjustment 580
        assert release is not None
        assert by_role(release) == {R.CASH_FLOW_HEDGE_RESERVE: D(-580), R.INVENTORY_BASIS_ADJUSTMENT: D(580)}

    def test_method_none_leaves_the_reserve(self) -> None:
        state = chain(terms(), [(SEP, "1200", "-1000")])[0].state_after
        assert reserve_release(terms(method=OciReleaseMethod.NONE), state, SEP, SEP) is None

    def test_after_the_exposure_date_changes_go_to_pnl(self) -> None:
        state = chain(terms(), [(d, h, i) for d, h, i, _ in CASH_FLOW])[-1].state_after
        assert regime_on(date(2027, 1, 15), DEC, None) is Regime.PROFIT_OR_LOSS
        entry = reval(terms(), state, date(2027, 1, 15), "-650", None, Regime.PROFIT_OR_LOSS)
        # ΔH = -650 + 600 = -50: Cr liability 50, Dr FX gain/loss 50 (6.5.6: no hedge any more)
        assert by_role(entry) == {R.DERIVATIVE_LIABILITY: D(-50), R.FX_GAIN_LOSS: D(50)}

    def test_same_signs_keep_no_reserve(self) -> None:
        # A = 100, B = 50: no offset, reserve 0 (6.5.11(a)); all of ΔA = 100 is ineffectiveness
        entry = chain(terms(), [(SEP, "100", "50")])[0]
        assert by_role(entry) == {R.DERIVATIVE_ASSET: D(100), R.HEDGE_INEFFECTIVENESS: D(-100)}

    def test_the_designation_date_mtm_is_not_hedged(self) -> None:
        # H was 30 on the designation date: A = 1,230 - 30 = 1,200; the first entry carries the
        # derivative at 1,230, the 30 earned before designation is FX gain/loss (FVTPL, 4.1.4)
        start = PostedState.at_designation(DESIGNATED, D(30), D(0))
        entry = reval(terms(), start, SEP, "1230", "-1000")
        assert by_role(entry) == {
            R.DERIVATIVE_ASSET: D(1230),
            R.FX_GAIN_LOSS: D(-30),
            R.CASH_FLOW_HEDGE_RESERVE: D(-1000),
            R.HEDGE_INEFFECTIVENESS: D(-200),
        }

    def test_a_hedge_needs_the_item(self) -> None:
        with pytest.raises(PostingInputError, match="no MTM of the hedged item"):
            reval(terms(), START, SEP, "1", None)


class TestAmendment:
    def test_a_new_version_continues_the_reserve(self) -> None:
        # v1 (ratio 1) to 30 Sep: A = 1,200, B = -1,000, reserve 1,000. v2 rebalances to 0.5
        # (6.5.5) from October: B = -1,000 + 0.5 x (-1,800 + 1,000) = -1,400; A = 1,500;
        # reserve = min(1,500, 1,400) = 1,400; OCI = 400; ineffectiveness = 300 - 400 = -100.
        # A restart would have taken A = 300, B = -400, reserve 300: not so.
        september = chain(terms(), [(SEP, "1200", "-1000")])[0]
        october = reval(terms(ratio="0.5"), september.state_after, OCT, "1500", "-1800")
        assert october.state_after.reserve == D(1400)
        assert by_role(october) == {
            R.DERIVATIVE_ASSET: D(300),
            R.CASH_FLOW_HEDGE_RESERVE: D(-400),
            R.HEDGE_INEFFECTIVENESS: D(100),
        }

    def test_within_a_version_b_is_the_dollar_offset_scaling(self) -> None:
        # ratio 0.8: B = 0.8 x (I(D) - I(designation)) = 0.8 x (-1,001.25 - 0) = -801.00, as
        # core.hedging.effectiveness scales ΔI; reserve = min(1,000, 801) = 801 (6.5.11(a))
        entries = chain(terms(ratio="0.8"), [(SEP, "500", "-500.01"), (OCT, "1000", "-1001.25")])
        assert entries[-1].state_after.item_change == D("0.8") * D("-1001.25")
        assert entries[-1].state_after.reserve == D("801.00")


class TestFairValueHedge:
    def test_both_legs_through_pnl(self) -> None:
        t = terms(HedgeType.FAIR_VALUE, OciReleaseMethod.NONE)
        sep, oct_ = chain(t, [(SEP, "1200", "-1000"), (OCT, "900", "-950")])
        # September: the instrument's 1,200 to P&L (6.5.8(a)); the item's -1,000 adjusts its
        # carrying amount against P&L (6.5.8(b)): net P&L = -1,200 + 1,000 = -200 (a gain of 200)
        assert by_role(sep) == {
            R.DERIVATIVE_ASSET: D(1200),
            R.HEDGE_INEFFECTIVENESS: D(-200),
            R.HEDGED_ITEM_BASIS_ADJUSTMENT: D(-1000),
        }
        # October: ΔH = -300 (Dr P&L 300), ΔB = +50 (Dr basis 50, Cr P&L 50): net Dr P&L 250
        assert by_role(oct_) == {
            R.DERIVATIVE_ASSET: D(-300),
            R.HEDGE_INEFFECTIVENESS: D(250),
            R.HEDGED_ITEM_BASIS_ADJUSTMENT: D(50),
        }
        assert oct_.state_after.item_adjustment == D(-950)
        assert reserve_release(t, oct_.state_after, OCT, OCT) is None


class TestNetInvestmentHedge:
    def test_into_the_translation_reserve_never_released(self) -> None:
        t = terms(HedgeType.NET_INVESTMENT, OciReleaseMethod.NONE)
        entry = chain(t, [(SEP, "-2000", "2100")])[0]
        # A = -2,000, B = 2,100: reserve = -min(2,000, 2,100) = -2,000 in the translation
        # reserve (6.5.13(a)); no ineffectiveness (6.5.13(b)): Dr reserve 2,000, Cr liability 2,000
        assert by_role(entry) == {R.DERIVATIVE_LIABILITY: D(-2000), R.TRANSLATION_RESERVE: D(2000)}
        assert reserve_release(t, entry.state_after, SEP, SEP) is None
        with pytest.raises(ValueError, match="on disposal"):  # 6.5.14
            no_longer_expected_release(t, entry.state_after, NoLongerExpected("carol", "sold", OCT), OCT)


class TestDeDesignation:
    def test_changes_to_pnl_then_no_longer_expected(self) -> None:
        t = terms()
        september = chain(t, [(SEP, "1200", "-1000")])[0]  # reserve 1,000 (as in CASH_FLOW)
        # de-designated on 30 Sep: that day's entry is still a hedge, later ones are not
        assert regime_on(SEP, DEC, SEP) is Regime.HEDGE
        assert regime_on(OCT, DEC, SEP) is Regime.PROFIT_OR_LOSS
        october = reval(t, september.state_after, OCT, "1500", None, Regime.PROFIT_OR_LOSS)
        # ΔH = 300 to FX gain/loss; the reserve stays at 1,000 while the flows are expected (6.5.12(a))
        assert by_role(october) == {R.DERIVATIVE_ASSET: D(300), R.FX_GAIN_LOSS: D(-300)}
        assert october.state_after.reserve == D(1000)
        decision = NoLongerExpected("carol", "customer cancelled the order", date(2026, 11, 10))
        release = no_longer_expected_release(t, october.state_after, decision, decision.recorded_on)
        # no longer expected: the 1,000 to P&L at once (6.5.12(b)): Dr reserve, Cr FX gain/loss
        assert release is not None
        assert release.key == "FX_OCI_NO_LONGER_EXPECTED-17-2026-11-10"
        assert by_role(release) == {R.CASH_FLOW_HEDGE_RESERVE: D(1000), R.FX_GAIN_LOSS: D(-1000)}
        assert release.lines[0].sources[0].ref == "carol on 2026-11-10: customer cancelled the order"
        assert release.kind is EntryKind.NO_LONGER_EXPECTED

    def test_who_and_why_are_required(self) -> None:
        with pytest.raises(ValueError, match="who recorded it and why"):
            NoLongerExpected(" ", "cancelled", OCT)


class TestCorrection:
    def test_reversal_plus_new_entry_in_the_first_open_period(self) -> None:
        t = terms()
        stored = chain(t, [(SEP, "1200", "-1000")])[0]
        # the instrument's September MTM was restated to 1,100: A = 1,100, reserve 1,000,
        # ineffectiveness 100; September is closed, so both land on 1 October
        recomputed = chain(t, [(SEP, "1100", "-1000")])[0]
        when = posting_date(SEP, {"2026-09"})
        fix = correction(stored, recomputed, when, sequence=2)
        assert fix is not None and when == date(2026, 10, 1)
        assert (fix.reversal.key, fix.reversal.reverses) == (
            "FX_REVERSAL-FX_REVALUATION-17-2026-09-30",
            "FX_REVALUATION-17-2026-09-30",
        )
        assert by_role(fix.reversal) == {k: -v for k, v in by_role(stored).items()}
        assert (fix.replacement.key, fix.replacement.corrects) == (
            "FX_REVALUATION-17-2026-09-30-2",
            "FX_REVALUATION-17-2026-09-30",
        )
        assert by_role(fix.replacement) == {
            R.DERIVATIVE_ASSET: D(1100),
            R.CASH_FLOW_HEDGE_RESERVE: D(-1000),
            R.HEDGE_INEFFECTIVENESS: D(-100),
        }
        assert {fix.reversal.period, fix.replacement.period} == {"2026-10"}
        assert fix.replacement.as_of == SEP

    def test_a_release_with_nothing_left_to_release_is_reversed_alone(self) -> None:
        # the stored release moved 1,000 to P&L; recomputed, the reserve is 0 (no release):
        # its reversal alone, Cr reserve 1,000 and Dr FX gain/loss 1,000 back (6.5.11(d))
        state = chain(terms(), [(SEP, "1200", "-1000")])[0].state_after
        stored = reserve_release(terms(), state, SEP, SEP)
        assert stored is not None and reserve_release(terms(), START, SEP, SEP) is None
        back = reverse(stored, OCT, state)
        assert back.key == "FX_REVERSAL-FX_OCI_RELEASE-17-2026-09-30"
        assert by_role(back) == {R.CASH_FLOW_HEDGE_RESERVE: D(-1000), R.FX_GAIN_LOSS: D(1000)}
        assert back.state_after.reserve == D(1000)

    def test_a_correction_is_of_the_same_date(self) -> None:
        sep, oct_ = chain(terms(), [(SEP, "1200", "-1000"), (OCT, "1500", "-1800")])
        with pytest.raises(ValueError, match="does not recompute"):
            correction(sep, oct_, NOV, sequence=2)

    def test_nothing_differs_nothing_to_correct(self) -> None:
        stored = chain(terms(), [(SEP, "1200", "-1000")])[0]
        assert correction(stored, stored, OCT, sequence=2) is None


class TestFunctionalCurrency:
    def test_lines_in_both_currencies(self) -> None:
        t = terms(functional="EUR")
        rate_sep, rate_oct = FunctionalRate(D("1.10"), direct=False), FunctionalRate(D("1.20"), direct=False)
        sep = revaluation(t, START, Revaluation(SEP, SEP, mark("1200", 1, "1090.91"), mark("-1000", 2), rate=rate_sep))
        # EURUSD 1.10: reserve -1,000 / 1.1 = -909.09; ineffectiveness -200 / 1.1 = -181.82;
        # derivative 1,090.91 (the snapshot's functional MTM): 1,090.91 - 909.09 - 181.82 = 0
        assert [(line.role, line.amount, line.functional_amount) for line in sep.lines] == [
            (R.DERIVATIVE_ASSET, D(1200), D("1090.91")),
            (R.CASH_FLOW_HEDGE_RESERVE, D(-1000), D("-909.09")),
            (R.HEDGE_INEFFECTIVENESS, D(-200), D("-181.82")),
        ]
        oct_ = revaluation(
            t, sep.state_after, Revaluation(OCT, OCT, mark("1500", 3, "1250.00"), mark("-1800", 4), rate=rate_oct)
        )
        # EURUSD 1.20: derivative 1,250.00 - 1,090.91 = 159.09; reserve -500 / 1.2 = -416.67;
        # ineffectiveness 200 / 1.2 = 166.67; sum -90.91: the opening 1,200 USD lost 90.91 EUR
        # of translation (1,090.91 - 1,000.00), Dr FX gain/loss 90.91 with no USD amount
        assert by_role(oct_) == {
            R.DERIVATIVE_ASSET: D(300),
            R.CASH_FLOW_HEDGE_RESERVE: D(-500),
            R.HEDGE_INEFFECTIVENESS: D(200),
        }
        fx = [line for line in oct_.lines if line.role is R.FX_GAIN_LOSS]
        assert [(line.amount, line.functional_amount) for line in fx] == [(D(0), D("90.91"))]
        # the reserve carried in EUR at historical rates: 909.09 + 416.67 = 1,325.76, and released so
        assert oct_.state_after.reserve_functional == D("1325.76")
        release = reserve_release(t, oct_.state_after, OCT, OCT)
        assert release is not None
        assert [(line.amount, line.functional_amount) for line in release.lines] == [
            (D(1500), D("1325.76")),
            (D(-1500), D("-1325.76")),
        ]

    def test_no_functional_figure_refuses(self) -> None:
        with pytest.raises(PostingInputError, match="no functional MTM"):
            revaluation(terms(functional="EUR"), START, Revaluation(SEP, SEP, mark("1", 1), mark("-1", 2)))


class TestPayload:
    def test_the_state_comes_back_from_the_stored_payload(self) -> None:
        entry = chain(terms(), [(SEP, "1200", "-1000.10")])[0]
        stored, _, sha = canonical_form(entry.payload)
        assert sha == entry.sha256
        assert PostedState.from_payload(stored["state_after"]) == entry.state_after  # type: ignore[arg-type]
        assert stored["lines"][0] == {  # type: ignore[index]
            "account": "1450",
            "role": "derivative_asset",
            "amount": "1200",
            "functional_amount": None,
            "sources": [{"kind": "mtm_snapshot", "ref": "109", "sha256": "sha-109"}],
        }

    def test_extra_sources_are_named_by_every_line(self) -> None:
        extra = (Source("mtm_snapshot", "7", "sha-7"),)
        inputs = Revaluation(SEP, SEP, mark("1200", 1), mark("-1000", 2), extra_sources=extra)
        entry = revaluation(terms(), START, inputs)
        assert all(line.sources[-1] == extra[0] for line in entry.lines)


class TestReserveCarried:
    """The roll-forward's closing against the reserve the latest entry carries (IFRS 7 24E):
    30 Nov posted from 30 Sep, then 30 Oct inserted (its MTM backfilled) before 30 Nov's
    correction, with the figures of CASH_FLOW above."""

    def entries(self) -> tuple[JournalEntry, JournalEntry, JournalEntry]:
        sep = reval(terms(), START, SEP, "1200", "-1000")  # reserve 1,000
        nov = reval(terms(), sep.state_after, NOV, "-400", "350")  # reserve -350: OCI -1,350
        oct_ = reval(terms(), sep.state_after, OCT, "1500", "-1800")  # reserve 1,500: OCI 500
        return sep, nov, oct_

    def test_an_inserted_date_leaves_the_closing_off_until_the_correction(self) -> None:
        sep, nov, oct_ = self.entries()
        period = Period.parse("2026-11")
        [row], _ = roll_forward([sep, nov, oct_], period)
        # credit positive: 1,000 - 1,350 + 500 = 150: October's 500 counted twice (30 Nov's
        # movement still runs from 30 Sep), while 30 Nov's state carries -min(400, 350) = -350
        assert (row.closing, carried([sep, nov, oct_], period)[(17, CFH)]) == (D(150), D(-350))
        recomputed = reval(terms(), oct_.state_after, NOV, "-400", "350")  # OCI -350 - 1,500 = -1,850
        fix = correction(nov, recomputed, date(2026, 12, 1), 2)
        assert fix is not None
        posted = [sep, nov, oct_, fix.reversal, fix.replacement]
        [dec], _ = roll_forward(posted, Period.parse("2026-12"))
        # December: opening 150; the reversal +1,350 and the new entry -1,850: closing -350
        assert (dec.opening, dec.recognised, dec.closing) == (D(150), D(-500), D(-350))
        assert carried(posted, Period.parse("2026-12"))[(17, CFH)] == D(-350)
