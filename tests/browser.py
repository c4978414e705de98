"""A real headless Chromium (Debian's `chromium`, never a Playwright download) for the
report tests: one browser per test module, a fresh page per report.

Outside CI a missing browser skips the tests that need it; in CI (CI=true) it fails them
(.ci/run installs `chromium` when it is missing). The flags keep Chromium off the network:
without them it calls home for components, sync and safe browsing on a closed network.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.services import missing

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass
class Opened:
    """A report opened in the browser: the page, every request it made other than the
    report file itself (a self-contained report makes none), and its screenshot."""

    page: Any
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The system's Chromium, launched once for the module, with an empty profile."""
    if not Path(CHROMIUM).exists():
        missing("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("Playwright", exc)
    profile = tempfile.mkdtemp(prefix="hedgeops-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=list(FLAGS), headless=True, viewport={"width": 1100, "height": 900}
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def open_report(browser: Any, html: Path, screenshot: Path) -> Opened:
    """Open `html` from disk; record (and refuse) every other request; save a full-page
    screenshot to `screenshot`. The caller closes nothing: the page lives until the module ends."""
    page = browser.new_page()
    own = html.resolve().as_uri()
    opened = Opened(page)

    def refuse(route: Any) -> None:
        if route.request.url != own:
            opened.requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse)
    page.on("request", lambda r: None if r.url == own or r.url in opened.requests else opened.requests.append(r.url))
    page.goto(own, wait_until="load")
    page.screenshot(path=str(screenshot), full_page=True)
    opened.screenshot = screenshot
    return opened
