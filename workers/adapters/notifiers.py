"""Notifiers (core.ports.Notifier): a JSON webhook with Slack- or Telegram-compatible
payloads (seed 001 sends Telegram alerts), and the log. A notifier raises when it could
not deliver; the guard's outbox keeps the notification and tries again later."""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from core.ports import Notifier
from workers.settings import Settings

log = structlog.get_logger(__name__)


class LogNotifier:
    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        log.warning("guard_notification", kind=kind, message=message, **{f"detail_{k}": v for k, v in details.items()})


class WebhookNotifier:
    """POSTs one JSON document per alert; anything but a 2xx, a timeout or no connection raises."""

    def __init__(self, url: str, fmt: str, timeout: float, chat_id: str | None = None) -> None:
        self.url, self.fmt, self.timeout, self.chat_id = url, fmt, timeout, chat_id

    def payload(self, kind: str, message: str, details: dict[str, object]) -> dict[str, Any]:
        if self.fmt == "slack":
            return {"text": f":rotating_light: {message}"}
        if self.fmt == "telegram":
            return {"chat_id": self.chat_id, "text": message, "disable_notification": False}
        return {"kind": kind, "message": message, "details": details}

    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        response = httpx.post(self.url, json=self.payload(kind, message, details), timeout=self.timeout)
        response.raise_for_status()
        LogNotifier().notify(kind, message, details)


def build_notifier(settings: Settings) -> Notifier:
    if settings.guard_webhook_url:
        return WebhookNotifier(
            settings.guard_webhook_url,
            settings.guard_webhook_format,
            settings.guard_notify_timeout_s,
            settings.guard_telegram_chat_id,
        )
    return LogNotifier()
