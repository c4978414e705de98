"""MT5 inputs: the expected-positions CSV and account fields (credential references)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from core.errors import NotAFileOfThisKind
from core.mt5.accounts import AccountSpec, CredentialKind, parse_credential_ref
from core.mt5.expected import changed_fields, parse_expected_csv, refused_fields
from core.mt5.values import Secret
from core.values import Side

HEADER = "login,server,signal_id,approval_id,symbol,direction,volume,entry_price,sl,tp,magic,ticket\n"


class TestExpectedPositionsCsv:
    def test_a_good_row_with_and_without_optional_values(self) -> None:
        text = (
            HEADER + "5001,Sim-Demo,SIG-1,APR-1,EURUSD,buy,0.10,1.08500,1.08000,1.09500,7,1001\n"
            "5001,,SIG-2,,XAUUSD.a,sell,1,2650.5,,,7,\n"
        )

        report = parse_expected_csv(text, "e.csv")

        assert report.errors == []
        (_, first), (_, second) = report.rows
        assert (first.server, first.direction, first.volume, first.sl, first.ticket) == (
            "Sim-Demo",
            Side.BUY,
            D("0.100000"),
            D("1.080000"),
            1001,
        )
        assert (second.server, second.approval_id, second.sl, second.tp, second.ticket) == (
            None,
            None,
            None,
            None,
            None,
        )

    def test_only_the_required_columns_are_needed(self) -> None:
        report = parse_expected_csv(
            "login,signal_id,symbol,direction,volume,entry_price,magic\n5001,S,EURUSD,buy,0.1,1.085,0\n", "e.csv"
        )
        assert [row.signal_id for _, row in report.rows] == ["S"]

    @pytest.mark.parametrize(
        ("row", "error"),
        [
            ("5001,,S,,EURUSD,long,0.1,1.085,,,7,", "e.csv:2: direction"),
            ("5001,,S,,EURUSD,buy,0,1.085,,,7,", "e.csv:2: volume"),
            ("5001,,S,,EURUSD,buy,0.1,1e3,,,7,", "e.csv:2: entry_price"),
            ("5001,,S,,EURUSD,buy,0.1,1.085,-1,,7,", "e.csv:2: sl"),
            ("5001,,S,,EUR USD,buy,0.1,1.085,,,7,", "e.csv:2: symbol"),
            ("0,,S,,EURUSD,buy,0.1,1.085,,,7,", "e.csv:2: login"),
            ("5001,,S,,EURUSD,buy,0.1,1.085,,,7,0", "e.csv:2: ticket"),
        ],
    )
    def test_bad_rows_are_named(self, row: str, error: str) -> None:
        report = parse_expected_csv(HEADER + row + "\n", "e.csv")
        assert report.rows == [] and str(report.errors[0]).startswith(error)

    def test_a_signal_repeated_for_one_login_is_an_error(self) -> None:
        text = (
            HEADER + "5001,,S,,EURUSD,buy,0.1,1.085,,,7,\n5002,,S,,EURUSD,buy,0.1,1.085,,,7,\n"
            "5001,,S,,EURUSD,buy,0.2,1.085,,,7,\n"
        )
        report = parse_expected_csv(text, "e.csv")
        assert [str(e) for e in report.errors] == ["e.csv:4: signal_id: S repeated for login 5001 (first at line 2)"]

    def test_a_file_of_another_kind_is_refused_whole(self) -> None:
        with pytest.raises(NotAFileOfThisKind, match="header lacks login"):
            parse_expected_csv("symbol,price_date,price\nLME-AL,2026-11-19,1\n", "prices.csv")

    @pytest.mark.parametrize(
        ("stored_ticket", "row_ticket", "changed", "refused"),
        [
            (None, "1001", ["ticket"], []),  # a ticket becoming known: applied
            (1001, "", [], []),  # a file without the ticket leaves the known one alone
            (1001, "1002", ["ticket"], ["ticket"]),  # a known ticket never changes
        ],
    )
    def test_changed_and_refused_fields(
        self, stored_ticket: int | None, row_ticket: str, changed: list[str], refused: list[str]
    ) -> None:
        [(_, row)] = parse_expected_csv(HEADER + f"5001,,S,,EURUSD,buy,0.1,1.085,,,7,{row_ticket}\n", "e.csv").rows
        stored = {
            "signal_id": "S",
            "approval_id": None,
            "symbol": "EURUSD",
            "direction": "buy",
            "volume": D("0.100000"),
            "entry_price": D("1.085"),
            "sl": None,
            "tp": None,
            "magic": 7,
            "ticket": stored_ticket,
        }
        assert changed_fields(stored, row) == changed
        assert refused_fields(stored, row) == refused
        assert refused_fields({**stored, "volume": D("0.2")}, row) == sorted(["volume", *refused])


class TestAccounts:
    @pytest.mark.parametrize(
        ("text", "kind", "target"),
        [
            ("env:MT5_PASSWORD_5001", CredentialKind.ENV, "MT5_PASSWORD_5001"),
            ("file:/run/secrets/mt5_5001", CredentialKind.FILE, "/run/secrets/mt5_5001"),
        ],
    )
    def test_credential_references(self, text: str, kind: CredentialKind, target: str) -> None:
        ref = parse_credential_ref(text)
        assert (ref.kind, ref.target, str(ref)) == (kind, target, text)

    @pytest.mark.parametrize("text", ["hunter2", "env:", "env:1BAD", "env:A B", "file:relative/path", "pw:hunter2"])
    def test_anything_else_is_refused_without_repeating_it(self, text: str) -> None:
        with pytest.raises(ValueError) as caught:
            parse_credential_ref(text)
        assert (
            str(caught.value)
            == "credential reference must be env:NAME or file:/absolute/path (never the password itself)"
        )

    def test_an_account_spec_checks_terminal_currency_and_credential(self) -> None:
        spec = AccountSpec(
            login=5001, server="Sim-Demo", terminal="t1", currency="USD", magic_numbers=(7, 8), credential_ref="env:PW"
        )
        assert (spec.policy, spec.enabled) == ("default", True)
        with pytest.raises(ValidationError, match="terminal"):
            AccountSpec(login=5001, server="S", terminal="T 1", currency="USD", credential_ref="env:PW")

    def test_a_secret_never_shows_itself(self) -> None:
        secret = Secret("hunter2")
        assert "hunter2" not in f"{secret} {secret!r} {[secret]}" and secret.reveal() == "hunter2"
