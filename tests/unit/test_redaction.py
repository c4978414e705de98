"""The secrets a process holds are redacted wherever they show up, whatever their form; the
settings say which those are; a terminal's error text is redacted when the error is made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.mt5.gateway import IpcTimeout
from core.redaction import forget_secrets, redact_text, redact_value, remember_secrets, secrets_in
from workers.settings import load_settings


@pytest.fixture(autouse=True)
def none_held() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def test_a_held_secret_is_redacted_bare_and_percent_encoded() -> None:
    assert redact_text("denied for feed:hunter2-x/y") == "denied for feed:hunter2-x/y"  # not held: no form says so
    remember_secrets("hunter2-x/y")
    assert redact_text("denied for feed:hunter2-x/y") == "denied for feed:***"
    assert redact_text("GET /q?key=hunter2-x%2Fy") == "GET /q?key=***"
    assert redact_value({"note": ["echo hunter2-x/y"]}) == {"note": ["echo ***"]}


def test_a_short_secret_is_redacted_only_where_its_form_says_so() -> None:
    remember_secrets("pw1", None, "")
    assert redact_text("pw1 in a word: upw1") == "pw1 in a word: upw1"
    assert redact_text("redis://:pw1@h/0 password=pw1") == "redis://:***@h/0 password=***"


def test_the_settings_name_their_secrets(tmp_path: Path) -> None:
    sources = tmp_path / "sources.json"
    sources.write_text('[{"name": "feed", "kind": "http_json", "url": "https://u:feed-pass-1@feed.example/p"}]')
    settings = load_settings(
        database_url="postgresql+psycopg://hedge:db-pass-1@db:5432/x",
        broker_url="redis://:broker-pass-1@r:6379/0",
        result_backend="redis://:results-pass-1@r:6379/1",
        price_sources_file=sources,
        flower_password="flower-pass-1",
        guard_webhook_url="https://api.telegram.org/bot123:tg-token-1/sendMessage",
    )
    assert set(secrets_in(settings.model_dump())) == {
        "db-pass-1",
        "broker-pass-1",
        "results-pass-1",
        "feed-pass-1",
        "flower-pass-1",
        "https://api.telegram.org/bot123:tg-token-1/sendMessage",
    }


def test_a_terminal_error_text_is_redacted_when_the_error_is_made() -> None:
    remember_secrets("mt5-pass-77")
    error = IpcTimeout("login", -10005, "rejected mt5-pass-77, token=abc")
    assert str(error) == "login failed: ipc_timeout (-10005, rejected ***, token=***)"
    assert error.message == "rejected ***, token=***"
