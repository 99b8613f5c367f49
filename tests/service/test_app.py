"""The app in-process, driven at the ASGI level where a test needs control of time:
an engine error fails only its batch; a client that leaves is dropped before its work runs."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.engine.registry import Registry
from service.settings import load_settings
from tests.service.conftest import REPOSITORY
from tests.support.wait import until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    # one engine worker: these tests hold it to make requests queue behind a running batch
    settings = load_settings({"model_repository": REPOSITORY, "engine_workers": 1}, environ={})
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await application.state.loading
        yield application


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_an_engine_error_fails_its_batch_and_the_next_batch_runs(app: FastAPI) -> None:
    registry: Registry = app.state.registry
    batcher = registry.slots["sentiment"].batcher
    assert batcher is not None
    real = batcher._engine
    calls = 0

    def flaky(key: Any, items: list[Any]) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("CUDA error: an illegal memory access")
        return real(key, items)

    batcher._engine = flaky
    async with _client(app) as client:
        failed = await client.post("/v1/classify", json={"texts": ["one", "two"]})
        ok = await client.post("/v1/classify", json={"texts": ["three"]})
        metrics = (await client.get("/metrics")).text
    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "engine_error"
    assert "illegal memory access" in failed.json()["error"]["message"]
    assert ok.status_code == 200
    assert 'attnserve_batch_failures_total{model="sentiment"} 1.0' in metrics


async def test_a_client_that_disconnects_is_dropped_before_its_work_runs(app: FastAPI) -> None:
    registry: Registry = app.state.registry
    batcher = registry.slots["sentiment"].batcher
    assert batcher is not None
    gate, seen = threading.Event(), []
    real = batcher._engine

    def held(key: Any, items: list[Any]) -> Any:
        seen.append(len(items))
        gate.wait(10)
        return real(key, items)

    batcher._engine = held
    async with _client(app) as client:
        first = asyncio.ensure_future(
            client.post("/v1/classify", json={"texts": ["holds the engine"]})
        )
        await until(lambda: seen, what="the first request reached the engine")
        # a raw ASGI request whose client leaves while it is queued
        left = asyncio.Event()
        body = json.dumps({"texts": ["the client leaves"]}).encode()
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await left.wait()
            return {"type": "http.disconnect"}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "POST",
            "path": "/v1/classify",
            "raw_path": b"/v1/classify",
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        call = asyncio.ensure_future(app(scope, receive, send))
        await until(lambda: batcher.depth > 0, what="the second request was queued")
        left.set()
        await asyncio.wait_for(call, 5)
        gate.set()
        assert (await first).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert sent[0]["status"] == 499
    assert seen == [1]  # the departed client's text never reached the engine
    assert 'attnserve_rejections_total{model="sentiment",reason="cancelled"} 1.0' in metrics
    assert (
        'attnserve_requests_total{endpoint="classify",model="sentiment",outcome="cancelled"} 1.0'
        in metrics
    )


async def test_a_provider_fallback_takes_the_model_out_of_service(app: FastAPI) -> None:
    registry: Registry = app.state.registry
    handler = registry.slots["sentiment"].handler
    assert handler is not None
    runner = handler.runtime._runner  # type: ignore[union-attr]
    runner.provider = "CUDAExecutionProvider"  # as if created on CUDA; ORT now reports CPU
    async with _client(app) as client:
        failed = await client.post("/v1/classify", json={"texts": ["one"]})
        after = await client.post("/v1/classify", json={"texts": ["two"]})
        models = {m["name"]: m for m in (await client.get("/v1/models")).json()["models"]}
        metrics = (await client.get("/metrics")).text
        translated = await client.post("/v1/translate", json={"texts": ["Save changes"]})
    assert failed.status_code == 500 and "fell back from CUDAExecutionProvider" in failed.text
    assert after.status_code == 503 and "ProviderLost" in after.json()["error"]["message"]
    assert models["sentiment"]["state"] == "failed"
    assert 'attnserve_model_ready{model="sentiment",version="3"} 0.0' in metrics
    assert 'attnserve_provider_fallbacks_total{model="sentiment"} 1.0' in metrics
    assert translated.status_code == 200  # the other model serves on
