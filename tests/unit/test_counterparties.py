"""Counterparty master data and exposure, pure: LEI check digits (ISO 17442, ISO 7064 MOD
97-10), the counterparties CSV, and the netting-set exposure worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.counterparties import COUNTERPARTY_HEADER, lei_problem, parse_counterparty_csv
from core.exposure import Counterparty, ValuedContract, conversion_rate, exposures

D = Decimal

#: Published LEIs: Deutsche Bank AG (https://50cutoffpoints.com/deutsche-bank-ag-legal-entity-identifier),
#: the XBRL example of http://codes.eurofiling.info/lei/, the entity of
#: https://ibankie.com/leis/8156001A2C01D4CADE80, and GLEIF's own.
PUBLISHED = ["7LTWFZYICNSX8D621K86", "KGCEPHLVVKVRZYO1T647", "8156001A2C01D4CADE80", "506700GE1G29325QX363"]


@pytest.mark.parametrize("lei", PUBLISHED)
def test_a_published_lei_is_accepted(lei: str) -> None:
    assert lei_problem(lei) is None


@pytest.mark.parametrize(
    ("lei", "why"),
    [
        ("7LTWFZYICNSX8D621K87", "fails its check digits"),  # last check digit altered
        ("7LTWFZYICNSX8D621K68", "fails its check digits"),  # check digits swapped
        ("7LTWFZYICNSX8D612K86", "fails its check digits"),  # two body characters swapped
        ("8LTWFZYICNSX8D621K86", "fails its check digits"),  # first character altered
        ("KGCEPHLVVKVRZYO1T64", "is not 20 characters"),
        ("7ltwfzyicnsx8d621k86", "upper-case ASCII"),
        ("7LTWFZYICNSX8D621KAB", "then 2 check digits"),
        ("7LTWFZYICNSX8D621Ｋ86", "upper-case ASCII"),  # a fullwidth K
    ],
)
def test_an_altered_or_malformed_lei_is_refused(lei: str, why: str) -> None:
    problem = lei_problem(lei)
    assert problem is not None and why in problem


def csv(*rows: str) -> str:
    return ",".join(COUNTERPARTY_HEADER) + "\n" + "\n".join(rows) + "\n"


GOOD = "CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,ISDA-2002-DB,NS-DB,5000000.00,EUR,SSI-DB-1"


class TestTheCounterpartiesFile:
    def test_a_good_row(self) -> None:
        report = parse_counterparty_csv(csv(GOOD, "CP-X,Example,KGCEPHLVVKVRZYO1T647,,,100,USD,"), "cp.csv")
        assert report.errors == []
        (_, db), (_, x) = report.rows
        assert (db.netting_set, db.credit_limit, db.limit_currency) == ("NS-DB", D("5000000.00"), "EUR")
        assert (x.isda_agreement_ref, x.netting_set, x.settlement_instructions_ref) == (None, None, None)

    @pytest.mark.parametrize(
        ("row", "why"),
        [
            (
                "CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K87,I,N,1,EUR,S",
                "lei: 7LTWFZYICNSX8D621K87 fails its check digits",
            ),
            ("CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,1.001,EUR,S", "credit_limit: at most 2 decimals"),
            ("CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,-5,EUR,S", "credit_limit"),
            ("CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,5,EU,S", "limit_currency"),
            ("CP-DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,5,XYZ,S", "limit_currency"),
            ("CP DB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,5,EUR,S", "counterparty_id"),
            ("CP-DB,,7LTWFZYICNSX8D621K86,I,N,5,EUR,S", "legal_name"),
            ("CP-DB,Deutsche\u202eBank,7LTWFZYICNSX8D621K86,I,N,5,EUR,S", "U+202E"),
            ("CP-ДB,Deutsche Bank AG,7LTWFZYICNSX8D621K86,I,N,5,EUR,S", "counterparty_id"),
        ],
    )
    def test_a_bad_row_says_why(self, row: str, why: str) -> None:
        report = parse_counterparty_csv(csv(row), "cp.csv")
        assert report.rows == [] and len(report.errors) == 1
        assert report.errors[0].line == 2 and why in report.errors[0].reason, report.errors[0].reason

    def test_repeats_and_a_shared_netting_set_are_refused_with_their_lines(self) -> None:
        report = parse_counterparty_csv(
            csv(
                GOOD,
                "CP-DB,Again,KGCEPHLVVKVRZYO1T647,,,1,EUR,",
                "CP-Y,Same LEI,7LTWFZYICNSX8D621K86,,,1,EUR,",
                "CP-Z,Other,8156001A2C01D4CADE80,,NS-DB,1,EUR,",
            ),
            "cp.csv",
        )
        assert [(e.line, e.reason) for e in report.errors] == [
            (3, "counterparty_id: CP-DB repeated (first at line 2)"),
            (4, "lei: 7LTWFZYICNSX8D621K86 repeated (first at line 2)"),
            (5, "netting_set: NS-DB is already CP-DB's"),
        ]


#: D-1 ECB reference rates, per 1 EUR.
ECB = {"EURUSD": D("1.080000"), "EURGBP": D("0.860000")}


def test_conversion_rates_are_ecb_crosses() -> None:
    # USD->EUR: EUREUR / EURUSD = 1 / 1.08 = 0.92592592.. -> 0.925926 (6 dp, half-even)
    assert conversion_rate("USD", "EUR", ECB) == D("0.925926")
    # USD->GBP: EURGBP / EURUSD = 0.86 / 1.08 = 0.79629629.. -> 0.796296
    assert conversion_rate("USD", "GBP", ECB) == D("0.796296")
    # EUR->USD: EURUSD / 1 = 1.08
    assert conversion_rate("EUR", "USD", ECB) == D("1.080000")
    assert conversion_rate("USD", "USD", {}) == 1
    assert conversion_rate("USD", "JPY", ECB) is None


class TestTheExposure:
    A = Counterparty(1, "CP-A", "NS-A", D("20000.00"), "USD")
    B = Counterparty(2, "CP-B", "NS-B", D("2000.00"), "EUR")
    C = Counterparty(3, "CP-C", None, D("5000.00"), "GBP")
    E = Counterparty(4, "CP-E", "NS-E", D("1.00"), "USD")  # no contract

    BOOK = [
        ValuedContract(1, D("16350.00"), "USD"),
        ValuedContract(1, D("-3175.00"), "USD"),
        ValuedContract(1, D("-730.00"), "USD"),
        ValuedContract(2, D("12700.00"), "USD"),
        ValuedContract(2, D("-10000.00"), "USD"),
        ValuedContract(3, D("635.00"), "USD"),
        ValuedContract(3, D("-635.00"), "USD"),
    ]

    def test_two_netting_sets_with_mixed_signs_and_one_counterparty_without_netting(self) -> None:
        a, b, c, e = exposures([self.A, self.B, self.C, self.E], self.BOOK, ECB)
        # NS-A in USD: net = 16350.00 - 3175.00 - 730.00 = 12445.00; exposure = max(0, 12445.00)
        # utilisation = 12445 / 20000 = 0.62225 -> 0.6222 (half-even); headroom = 20000 - 12445 = 7555.00
        assert (a.net, a.exposure, a.utilisation, a.headroom, a.breached) == (
            D("12445.00"),
            D("12445.00"),
            D("0.6222"),
            D("7555.00"),
            False,
        )
        # NS-B in EUR at 0.925926: 12700 x 0.925926 = 11759.2602; -10000 x 0.925926 = -9259.26
        # net = 2500.0002 -> 2500.00; utilisation = 2500.00 / 2000.00 = 1.2500; headroom = -500.00: a breach
        assert (b.net, b.exposure, b.utilisation, b.headroom, b.breached) == (
            D("2500.00"),
            D("2500.00"),
            D("1.2500"),
            D("-500.00"),
            True,
        )
        # CP-C nets nothing: net = 635 - 635 = 0.00, exposure = max(0, 635 x 0.796296) + max(0, -505.64796)
        # = 505.64796 -> 505.65 GBP; utilisation 505.65 / 5000 = 0.10113 -> 0.1011
        assert (c.net, c.exposure, c.utilisation, c.headroom) == (D("0.00"), D("505.65"), D("0.1011"), D("4494.35"))
        assert (e.contracts, e.exposure, e.utilisation) == (0, D("0.00"), D("0.0000"))

    def test_a_net_liability_is_no_exposure(self) -> None:
        (a,) = exposures([self.A], [ValuedContract(1, D("-100.00"), "USD"), ValuedContract(1, D("40.00"), "USD")], {})
        # net = -100 + 40 = -60.00; exposure = max(0, -60.00) = 0.00
        assert (a.net, a.exposure, a.headroom) == (D("-60.00"), D("0.00"), D("20000.00"))

    def test_a_missing_rate_leaves_the_exposure_uncomputed(self) -> None:
        (b,) = exposures([self.B], [ValuedContract(2, D("10.00"), "JPY")], ECB)
        assert (b.exposure, b.missing_rates, b.breached, b.utilisation) == (None, ("EURJPY",), False, None)
