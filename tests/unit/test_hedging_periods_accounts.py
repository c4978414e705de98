"""Periods (seed 004 Lock 1), the chart of accounts, the posting keys (Lock 3) and the
reserve roll-forward (IFRS 7 24E-24F), as tables of cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core import keys
from core.hedging.accounts import DEFAULT_CHART, AccountRole, ChartOfAccounts, ChartOfAccountsError
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import JournalEntry, PostedState
from core.hedging.periods import Period, PeriodError, first_open_period, period_of, posting_date, reopen_problem
from core.hedging.postings import LegMark, PostingTerms, Revaluation, revaluation
from core.hedging.releases import reserve_release
from core.hedging.reserve import roll_forward

D = Decimal


class TestPeriods:
    @pytest.mark.parametrize(
        ("day", "name"),
        [(date(2026, 11, 20), "2026-11"), (date(2026, 1, 1), "2026-01"), (date(999, 12, 31), "0999-12")],
    )
    def test_period_of(self, day: date, name: str) -> None:
        assert period_of(day) == name
        assert str(Period.parse(name)) == name

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("2026-13", "month 13 is not 01 to 12"),
            ("2026-00", "month 00 is not 01 to 12"),
            ("2026-1", "expected YYYY-MM"),
            ("Nov 2026", "expected YYYY-MM"),
            ("", "expected YYYY-MM"),
            ("0000-05", "year 0000"),
        ],
    )
    def test_parse_errors(self, text: str, message: str) -> None:
        with pytest.raises(PeriodError, match=message):
            Period.parse(text)

    @pytest.mark.parametrize(
        ("day", "closed", "period", "posted"),
        [
            (date(2026, 11, 20), set(), "2026-11", date(2026, 11, 20)),  # open: its own day
            (date(2026, 11, 20), {"2026-11"}, "2026-12", date(2026, 12, 1)),
            (date(2026, 11, 20), {"2026-11", "2026-12"}, "2027-01", date(2027, 1, 1)),  # over a year end
            (date(2026, 11, 20), {"2026-10", "2026-12"}, "2026-11", date(2026, 11, 20)),  # others closed
        ],
    )
    def test_first_open_period(self, day: date, closed: set[str], period: str, posted: date) -> None:
        assert str(first_open_period(day, closed)) == period
        assert posting_date(day, closed) == posted

    def test_last_day(self) -> None:
        assert [Period(2026, m).last_day.day for m in (1, 2, 12)] == [31, 28, 31]
        assert Period(2028, 2).last_day == date(2028, 2, 29)

    @pytest.mark.parametrize(
        ("asked", "approved", "problem"),
        [
            ("alice", "bob", None),
            ("alice", " Alice ", "two distinct people"),
            ("alice", "", "names who asks and who approves"),
        ],
    )
    def test_reopen_takes_two_people(self, asked: str, approved: str, problem: str | None) -> None:
        found = reopen_problem(asked, approved)
        assert (found is None) if problem is None else (found is not None and problem in found)


def raw_chart() -> dict[str, dict[str, str]]:
    """DEFAULT_CHART as the mapping a setting gives."""
    return {t.value: {r.value: code for r, code in codes.items()} for t, codes in DEFAULT_CHART.codes.items()}


class TestChartOfAccounts:
    def test_the_default_chart_is_complete(self) -> None:
        assert DEFAULT_CHART.code(HedgeType.CASH_FLOW, AccountRole.CASH_FLOW_HEDGE_RESERVE) == "3510"
        assert DEFAULT_CHART.code(HedgeType.NET_INVESTMENT, AccountRole.TRANSLATION_RESERVE) == "3520"

    def test_an_incomplete_chart_names_what_is_missing(self) -> None:
        raw = {t: roles for t, roles in raw_chart().items() if t != "net_investment"}
        del raw["cash_flow"]["cash_flow_hedge_reserve"]
        with pytest.raises(ChartOfAccountsError) as error:
            ChartOfAccounts.from_mapping(raw)
        message = str(error.value)
        assert "missing cash_flow.cash_flow_hedge_reserve" in message
        assert "missing net_investment.translation_reserve" in message
        assert "missing net_investment.derivative_asset" in message
        assert "fair_value" not in message

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"swap": {}}, "unknown hedge type 'swap'"),
            ({"cash_flow": {"cash": "1000"}}, "cash_flow: unknown role 'cash'"),
            ({"cash_flow": {"fx_gain_loss": " "}}, "cash_flow.fx_gain_loss: empty account code"),
        ],
    )
    def test_unknown_and_empty(self, change: dict[str, dict[str, str]], message: str) -> None:
        raw = raw_chart()
        for name, roles in change.items():
            raw[name] = raw.get(name, {}) | roles
        with pytest.raises(ChartOfAccountsError, match=message):
            ChartOfAccounts.from_mapping(raw)


class TestKeys:
    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            (keys.fx_posting_key(keys.FX_REVALUATION, 17, date(2026, 11, 30)), "FX_REVALUATION-17-2026-11-30"),
            (keys.fx_posting_key(keys.FX_REVALUATION, 17, date(2026, 11, 30), 2), "FX_REVALUATION-17-2026-11-30-2"),
            (keys.fx_posting_key(keys.FX_OCI_RELEASE, 17, date(2026, 12, 31)), "FX_OCI_RELEASE-17-2026-12-31"),
            (keys.fx_reversal_key("FX_REVALUATION-17-2026-11-30"), "FX_REVERSAL-FX_REVALUATION-17-2026-11-30"),
        ],
    )
    def test_keys(self, key: str, expected: str) -> None:
        assert key == expected


class TestReserveRollForward:
    def entries(self, method: OciReleaseMethod) -> list[JournalEntry]:
        """The cash flow months of test_hedging_postings: reserve 1,000, 1,500, -350, -580, released 31 Dec."""
        terms = PostingTerms(17, HedgeType.CASH_FLOW, D(1), "USD", None, method, DEFAULT_CHART)
        state, out = PostedState.at_designation(date(2026, 8, 31), D(0), D(0)), list[JournalEntry]()
        marks = [(date(2026, 9, 30), "1200", "-1000"), (date(2026, 10, 31), "1500", "-1800")]
        marks += [(date(2026, 11, 30), "-400", "350"), (date(2026, 12, 31), "-600", "580")]
        for n, (day, h, i) in enumerate(marks):
            inputs = Revaluation(day, day, LegMark(D(h), n, "h"), LegMark(D(i), 10 + n, "i"))
            out.append(revaluation(terms, state, inputs))
            state = out[-1].state_after
        release = reserve_release(terms, state, date(2026, 12, 31), date(2026, 12, 31))
        assert release is not None
        return [*out, release]

    @pytest.mark.parametrize(
        ("period", "method", "figures"),
        [
            # November: opening 1,000 + 500; recognised -1,850 (OCI, 6.5.11(b)); closing -350
            ("2026-11", OciReleaseMethod.RECYCLE_TO_PNL, ("1500", "-1850", "0", "0", "-350")),
            # December: -350 - 230 recognised; +580 reclassified to P&L (6.5.11(d)(ii)); closing 0
            ("2026-12", OciReleaseMethod.RECYCLE_TO_PNL, ("-350", "-230", "580", "0", "0")),
            # the same into the cost of inventory (6.5.11(d)(i)): moved to cost, not reclassified
            ("2026-12", OciReleaseMethod.BASIS_ADJUSTMENT, ("-350", "-230", "0", "580", "0")),
        ],
    )
    def test_roll_forward(self, period: str, method: OciReleaseMethod, figures: tuple[str, ...]) -> None:
        rows, totals = roll_forward(self.entries(method), Period.parse(period))
        row = rows[0]
        got = (row.opening, row.recognised, row.reclassified_to_pnl, row.moved_to_cost, row.closing)
        assert got == tuple(D(f) for f in figures)
        total = totals[AccountRole.CASH_FLOW_HEDGE_RESERVE]
        assert (total.relationship_id, total.closing) == (None, row.closing)
