"""The service on the committed default models (real, trained, exported), in-process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings

REPOSITORY = Path(__file__).resolve().parents[2] / "model_repository"


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/v2/health/ready").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout} s: {client.get('/v1/models').json()}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    settings = load_settings({"model_repository": REPOSITORY, "max_wait_ms": 2}, environ={})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c
