"""Flower's `/metrics` behind the same credentials as its pages.

Flower 2.2 serves `/metrics` (Prometheus text: worker names, hostnames, task names and
counts) without asking for credentials, though every page and API call needs them. When
Flower starts on this app with credentials, its metrics handler is wrapped in tornado's
`authenticated`, the decorator Flower's own pages use: a scrape then needs the same basic
auth (Prometheus: `basic_auth` in the scrape config; docs/runbook.md)."""

from __future__ import annotations

from typing import Any

#: Set on the handler once it is wrapped (a second start-up in one process wraps nothing).
LOCKED = "_hedgeops_authenticated"


def lock_metrics() -> None:
    import tornado.web
    from flower.views import monitor  # type: ignore[import-untyped]  # Flower ships no types

    handler: Any = monitor.Metrics
    if getattr(handler.get, LOCKED, False):
        return
    locked = tornado.web.authenticated(handler.get)
    setattr(locked, LOCKED, True)
    handler.get = locked
