"""Debian's headless Chromium, driven by Playwright (no browser download): the launch flags
that keep it off the network, and a page guard that fails a test on any script error,
console error or request to another origin."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium; the test is skipped where Debian's chromium is missing."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make system-deps installs Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def guard(page: Any, origin: str, *, offline: bool = False) -> list[str]:
    """Collect the page's problems into the returned list: script errors, console errors
    (but the browser's own line for a refused 4xx call) and requests to another origin.
    ``offline``: such requests are also aborted, as on a machine without internet."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and "status of 4" not in m.text
            else None
        ),
    )

    def request(r: Any) -> None:
        if not r.url.startswith((origin, "blob:", "data:")):
            problems.append(f"request to another origin: {r.url}")

    page.on("request", request)
    if offline:
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith((origin, "blob:", "data:"))
                else route.abort("internetdisconnected")
            ),
        )
    return problems
