"""The service on the committed default models (real, trained, exported), in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.support.browser import chromium
from tests.support.server import REPOSITORY
from tests.support.wait import wait_until


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    wait_until(lambda: client.get("/v2/health/ready").status_code == 200, timeout, "ready")


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    settings = load_settings({"model_repository": REPOSITORY, "max_wait_ms": 2}, environ={})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium (tests/support/browser.py), one per test module."""
    with chromium() as b:
        yield b
