"""The FastAPI application: settings → registry (models, batchers) → routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from starlette.types import ASGIApp, Receive, Scope, Send

from core import __version__
from service import explorer
from service.api import control, docs, errors, v1, v1_stream, v2
from service.api.auth import BearerAuth, Keys
from service.api.call import ClientGone, gone_response
from service.api.hot import HotRoutes
from service.api.middleware import ServiceMiddleware
from service.api.renderer import Renderer
from service.engine.registry import Registry
from service.metrics import Metrics
from service.settings import Settings, load_settings

log = logging.getLogger("attnserve")

DESCRIPTION = """
Residual-attention NLP models on ONNX Runtime, with dynamic batching.

* `/v1`: classify, translate, attention maps (JSON or PNG), the models and their state.
* `/v2`: the Open Inference Protocol (KServe V2), as Triton serves it.
* `/metrics`: Prometheus.
* `/explorer`: the attention explorer, a page that draws every attention map.

The default models: `sentiment` reads English movie-review snippets (not other text, and
unreliable on very short or negated reviews); `en-fr` translates software user-interface
strings (menus, buttons, messages), not general prose. `GET /v1/models` says what each
served model is for in its `description`.

Errors on `/v1` are `{"error": {"type", "message"}}`, on `/v2` `{"error": "..."}`;
the message says what to change. Every response carries `Server-Timing`
(queue, compute, total in ms) and `X-Batch-Size`.
"""


def _where(settings: Settings) -> str:
    """The line a person reads first: where to point a browser."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"
    pages = [f"{base}/ (attention explorer)"] if settings.explorer else []
    return "open " + ", ".join([*pages, f"{base}/docs (API docs)"])


class ServiceApp(FastAPI):
    """FastAPI behind the service's own front layer: every HTTP request enters through
    ``front`` — CORS when it is on, then ``ServiceMiddleware`` (ids, limits, the access
    line, metrics), then the hot inference routes (``api/hot.py``) or FastAPI's own stack
    (``stack``)."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.front is not None:
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


@dataclass
class ServiceState:
    draining: bool = False
    in_flight: int = 0


def create_app(settings: Settings | None = None) -> ServiceApp:
    settings = settings or load_settings()
    metrics = Metrics()
    registry = Registry(settings, metrics)
    state = ServiceState()

    async def load() -> None:
        await registry.load_all()
        ready = [n for n, s in registry.slots.items() if s.ready]
        failed = [n for n, s in registry.slots.items() if s.state == "failed"]
        log.info(
            "ready: serving %s%s",
            ", ".join(ready) or "no model",
            f"; failed to load: {', '.join(failed)}" if failed else "",
        )
        log.info(_where(settings))

    async def poll() -> None:
        await app.state.loading
        await registry.poll(settings.repository_poll_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load in the background: the port answers at once (live; not ready until loaded).
        loading = asyncio.create_task(load(), name="load-models")
        app.state.loading = loading
        tasks = [loading]
        exporter = None
        if settings.metrics_port:
            exporter, _ = start_http_server(
                settings.metrics_port, addr=settings.host, registry=metrics.registry
            )
            log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
        if settings.repository_poll_s:
            tasks.append(asyncio.create_task(poll(), name="poll-repository"))
        yield
        state.draining = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        await registry.close(settings.grace_period_s)
        renderer.close()

    app = ServiceApp(
        title="attnserve",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # docs.install serves the pages with their assets, no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.service = state
    app.state.renderer = renderer = Renderer(1, settings.max_renders)
    # The front, outermost first: CORS answers preflights; the service middleware stamps
    # the request id, logs and limits every request (401s included); the hot routes answer
    # inference requests; the rest goes through FastAPI, where the keys are checked.
    keys = Keys(settings.keys()) if settings.keys() else None
    if keys:
        app.add_middleware(BearerAuth, keys=keys, metrics_open=not settings.metrics_auth)
    front: ASGIApp = ServiceMiddleware(
        app.stack,
        metrics=metrics,
        max_bytes=settings.max_request_bytes,
        state=state,
        known=lambda name: name in registry.slots,
        max_in_flight=settings.max_in_flight,
        hot=HotRoutes(app, keys, cors=bool(settings.cors_origins)),
    )
    if settings.cors_origins:
        front = CORSMiddleware(
            front,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Server-Timing", "X-Batch-Size", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.front = front
    errors.install(app)

    @app.exception_handler(ClientGone)
    async def _gone(request: Request, exc: ClientGone) -> Response:
        return gone_response()

    app.include_router(v1.router)
    app.include_router(v1_stream.router)
    app.include_router(v2.router)
    app.include_router(control.router)
    docs.install(app)
    if settings.explorer:
        explorer.install(app)

    if not settings.metrics_port:  # else on its own port (see lifespan)

        @app.get(
            "/metrics",
            tags=["ops"],
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Metrics"}},
        )
        async def prometheus() -> Response:
            """Prometheus metrics (text exposition format)."""
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
