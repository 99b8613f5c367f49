"""Error bodies: the message says what to change, never a stack trace; an unexpected error
names the request id under which it is logged."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from service.engine.registry import Registry


def test_an_unexpected_error_is_a_500_without_a_trace_with_the_request_id(
    client: TestClient,
) -> None:
    registry: Registry = client.app.state.registry  # type: ignore[attr-defined]
    slot = registry.slots["sentiment"]
    real = slot.handler.prepare  # type: ignore[union-attr]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("secret internal detail /etc/passwd")

    slot.handler.prepare = broken  # type: ignore[union-attr, method-assign]
    try:
        r = client.post(
            "/v1/classify", json={"texts": ["fine"]}, headers={"X-Request-ID": "trace-me-1"}
        )
    finally:
        slot.handler.prepare = real  # type: ignore[union-attr, method-assign]
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert "KeyError" in message and "trace-me-1" in message
    assert (
        "Traceback" not in r.text and "secret internal detail" not in r.text and ".py" not in r.text
    )
    assert r.headers["x-request-id"] == "trace-me-1"
    assert client.post("/v1/classify", json={"texts": ["fine"]}).status_code == 200


def test_a_request_that_can_never_fit_hears_422_not_429() -> None:
    from service.app import create_app
    from service.settings import load_settings
    from tests.service.conftest import REPOSITORY, wait_ready

    settings = load_settings({"model_repository": REPOSITORY, "max_queue": 64}, environ={})
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        r = c.post("/v1/classify", json={"texts": ["x"] * 65})
        assert r.status_code == 422 and r.json()["error"]["type"] == "too_many_texts"
