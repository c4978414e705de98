"""The guard's notifications through a real webhook (http.server on 127.0.0.1, a free port),
on the simulated broker, SQLite and PostgreSQL: Slack- and Telegram-compatible payloads for
a warning and an execution; a failing (500) or slow (answering after
HEDGEOPS_GUARD_NOTIFY_TIMEOUT_S) webhook never holds a close back, its notifications stay
`pending` with their attempts counted, and they are delivered at the next sync once it
answers 200.

Figures by hand: peak 10000.00 (the first sync). 9400.00: (10000 - 9400) / 10000 * 100 =
6.0000 % >= warning 5 %. 8900.00: (10000 - 8900) / 10000 * 100 = 11.0000 % >= execution 10 %:
the account latches (episode 1) and closes its two positions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.guard_policy import GuardPolicy
from db.mt5.guard_models import Notification
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture
from workers.adapters.notifiers import WebhookNotifier, build_notifier
from workers.settings import load_settings

POLICY = GuardPolicy(
    warning_pct=Decimal("5"), execution_pct=Decimal("10"), equity_jump_pct=Decimal("50"), max_sync_age_s=3600
)
EQUITY = [10000.0, 9400.0, 8900.0, 8900.0, 8900.0]
WARNING = "MT5 5001: drawdown 6.0000% reached the warning level 5%"
EXECUTION = "MT5 5001: drawdown guard closed 2 of 2 position(s) (episode 1)"
TIMEOUT_S = 0.25  # HEDGEOPS_GUARD_NOTIFY_TIMEOUT_S in these tests; the slow webhook takes 8 times that


@dataclass
class Webhook:
    """What the server answers (status, after a delay) and every request it received
    (monotonic arrival time, path, JSON body)."""

    url: str = ""
    status: int = 200
    delay_s: float = 0.0
    received: list[tuple[float, str, Any]] = field(default_factory=list)

    def bodies(self, since: float = 0.0) -> list[Any]:
        return [body for at, _, body in self.received if at >= since]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hook.received.append((time.monotonic(), self.path, body))
            time.sleep(hook.delay_s)
            try:
                self.send_response(hook.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (the slow case)
                pass

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield hook
    server.shutdown()
    server.server_close()


def guarded(world: Mt5World, webhook: Webhook, fmt: str) -> list[float]:
    """The account with two positions, guarded, notified through the webhook (the notifier
    the settings build); the monotonic times at which closes were sent."""
    world.add(
        account(
            5001,
            equity=EQUITY,
            positions=[position(88812), position(88813, type=c.POSITION_TYPE_SELL, price_open=1.087)],
        )
    )
    world.start()
    settings = load_settings(
        database_url=world.url,
        guard_webhook_url=webhook.url,
        guard_webhook_format=fmt,
        guard_telegram_chat_id="-1001234567",
        guard_notify_timeout_s=TIMEOUT_S,
    )
    notifier = build_notifier(settings)
    assert isinstance(notifier, WebhookNotifier) and notifier.timeout == TIMEOUT_S
    world.mt5 = replace(world.mt5, guard_policy=POLICY, notifier=notifier)
    world.configure()
    sent: list[float] = []
    gateway = world.gateways["t1"]
    send = gateway.order_send

    def timed_send(request: Any) -> Any:
        sent.append(time.monotonic())
        return send(request)

    gateway.order_send = timed_send  # type: ignore[method-assign]
    return sent


def notifications(world: Mt5World) -> list[tuple[str, str, int]]:
    n = Notification
    return [tuple(r) for r in world.rows(select(n.kind, n.status, n.attempts).order_by(n.id))]


def errors(world: Mt5World) -> list[str | None]:
    return [e for (e,) in world.rows(select(Notification.last_error).order_by(Notification.id))]


def filled(world: Mt5World, ticket: int) -> int:
    return sum(1 for o in world.gateways["t1"].journal if o["request"]["position"] == ticket and o["filled"])


class TestPayloads:
    @pytest.mark.parametrize(
        ("fmt", "expected"),
        [
            ("slack", [{"text": f":rotating_light: {WARNING}"}, {"text": f":rotating_light: {EXECUTION}"}]),
            (
                "telegram",
                [
                    {"chat_id": "-1001234567", "text": WARNING, "disable_notification": False},
                    {"chat_id": "-1001234567", "text": EXECUTION, "disable_notification": False},
                ],
            ),
        ],
    )
    def test_a_warning_then_an_execution(
        self, world: Mt5World, webhook: Webhook, fmt: str, expected: list[Any]
    ) -> None:
        guarded(world, webhook, fmt)
        world.sync(), world.sync()
        assert webhook.bodies() == expected[:1]  # the warning, at the sync that saw 9400
        world.sync()
        assert webhook.bodies() == expected
        assert {path for _, path, _ in webhook.received} == {"/hook"}
        assert notifications(world) == [("warning", "delivered", 1), ("execution", "delivered", 1)]
        world.sync()  # latched: nothing new, nothing sent again
        assert len(webhook.received) == 2


class TestFailingWebhook:
    @pytest.mark.parametrize(
        ("status", "delay_s", "error"),
        [
            (500, 0.0, "HTTPStatusError: Server error '500 Internal Server Error'"),
            (200, TIMEOUT_S * 8, "ReadTimeout: timed out"),
        ],
        ids=["500", "slow"],
    )
    def test_closes_go_out_and_notifications_wait_for_the_next_sync(
        self, world: Mt5World, webhook: Webhook, status: int, delay_s: float, error: str
    ) -> None:
        sent = guarded(world, webhook, "slack")
        webhook.status, webhook.delay_s = status, delay_s
        world.sync(), world.sync()  # the warning: not delivered
        breach_sync = time.monotonic()
        world.sync()  # the execution: both positions closed, the two notifications not delivered

        assert filled(world, 88812) == filled(world, 88813) == 1
        assert len(sent) == 2
        during = [at for at, _, _ in webhook.received if at >= breach_sync]
        assert len(during) == 2 and max(sent) < min(during)  # every close went out before any notification
        assert notifications(world) == [("warning", "pending", 2), ("execution", "pending", 1)]
        assert all(e is not None and e.startswith(error) for e in errors(world))

        webhook.status, webhook.delay_s = 200, 0.0
        world.sync()
        assert notifications(world) == [("warning", "delivered", 3), ("execution", "delivered", 2)]
        assert errors(world) == [None, None]
        assert webhook.bodies(since=breach_sync)[-2:] == [
            {"text": f":rotating_light: {WARNING}"},
            {"text": f":rotating_light: {EXECUTION}"},
        ]
        assert len(world.gateways["t1"].journal) == 2  # nothing sent again
