"""The service's front layer, outside FastAPI: request ids, the access line, the request
size limit, drain on shutdown, the in-flight cap (taken once a request's body is
complete), per-request metrics — then the hot routes (``hot.HotRoutes``) or FastAPI.

Pure ASGI (no BaseHTTPMiddleware) so that streaming bodies are counted as they arrive
and a body over the limit is refused before it is read whole.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.logs import new_request_id, request_id
from service.metrics import Metrics

access = logging.getLogger("attnserve.access")  # one line per request; never its body
errors = logging.getLogger("attnserve")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a decoded path could forge log lines
# the V2 inference route, its model and version (the hot routes match it too)
INFER = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")
ENDPOINTS = {
    "/v1/classify": "classify",
    "/v1/translate": "translate",
    "/v1/translate/stream": "translate_stream",
    "/v1/attention": "attention",
}
ALWAYS_OPEN = ("/v2/health/live", "/v2/health/ready", "/metrics")
GONE = 499  # the access line's status for a client that left before its body was in


def outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return {429: "rejected", 499: "cancelled", 503: "unavailable", 504: "timeout"}.get(
        status, "client_error" if status < 500 else "error"
    )


def endpoint_of(path: str) -> tuple[str, str] | None:
    """(endpoint, model-from-path) for inference routes; None for the others."""
    if path in ENDPOINTS:
        return ENDPOINTS[path], ""
    m = INFER.match(path)
    return ("v2_infer", m.group("name")) if m else None


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_bytes: int,
        state: Any,
        known: Callable[[str], bool],
        max_in_flight: int = 1 << 30,
        hot: Callable[[Scope, bytes, Receive, Send], Awaitable[bool]] | None = None,
    ) -> None:
        self.app, self.metrics, self.max_bytes, self.state = app, metrics, max_bytes, state
        self.hot = hot  # answers the inference routes it takes; False hands one to ``app``
        self.max_in_flight = max_in_flight
        self.known = known  # model names used as labels (others would explode cardinality)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(dict(scope.get("headers", [])).get(b"x-request-id"))
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()
        begun = False

        async def stamped_send(message: Message) -> None:
            nonlocal status, begun
            if message["type"] == "http.response.start":
                status, begun = message["status"], True
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            if await self._handle(scope, receive, stamped_send, lambda: status) == GONE:
                status = GONE  # no answer was sent: the client left before its body was in
        except Exception as e:  # a bug: log it whole, answer without the trace
            if begun:  # the answer had begun: nothing more can be sent
                raise
            errors.exception("unexpected error on %s %s", scope.get("method"), scope["path"])
            await _refuse(
                stamped_send,
                scope["path"],
                500,
                "internal",
                f"internal error ({type(e).__name__}); it is logged on the server with "
                f"request id {rid}",
            )
        finally:
            path = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", scope["path"])
            access.log(
                logging.DEBUG if path in ALWAYS_OPEN else logging.INFO,
                "%s %s %d",
                scope.get("method"),
                path,
                status,
                extra={
                    "method": scope.get("method"),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "model": scope.get("state", {}).get("model") or None,
                },
            )
            request_id.reset(token)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, status: Callable[[], int]
    ) -> int | None:
        """``status()``: the status sent so far (500 until the answer begins). GONE when
        the client left mid-upload, with nothing sent."""
        path: str = scope["path"]
        if self.state.draining and path not in ALWAYS_OPEN:
            await _refuse(send, path, 503, "shutting_down", "the service is shutting down")
            return None
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await _refuse(send, path, 413, "too_large", _too_large(length, self.max_bytes))
            return None
        target = endpoint_of(path)
        if target is None:
            await self.app(scope, _limited(receive, self.max_bytes), send)
            return None
        endpoint, model = target
        started = time.perf_counter()
        # the whole body first: a slow upload holds no in-flight place (the door times it
        # out), so the places go to requests that are ready to run
        body = await _read_body(receive, self.max_bytes)
        if body is None:
            return GONE
        if isinstance(body, int):
            await _refuse(send, path, 413, "too_large", _too_large(body, self.max_bytes))
            return None
        if self.state.in_flight >= self.max_in_flight:
            # refused before the body is parsed, so that a flood cannot starve the event
            # loop the admitted requests need
            self.metrics.requests.labels("unknown", endpoint, "rejected").inc()
            await _refuse(
                send,
                path,
                429,
                "overloaded",
                f"{self.state.in_flight} requests are in flight, the most this process takes "
                f"(ATTNSERVE_MAX_IN_FLIGHT); retry after 1 s",
            )
            return None
        self.state.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            if self.hot is None or not await self.hot(scope, body, _replay(body, receive), send):
                await self.app(scope, _replay(body, receive), send)
        finally:
            self.state.in_flight -= 1
            self.metrics.in_flight.dec()
            model = scope.get("state", {}).get("model") or model
            model = model if self.known(model) else "unknown"
            self.metrics.request(model, endpoint, outcome(status()), time.perf_counter() - started)
        return None


async def _read_body(receive: Receive, limit: int) -> bytes | int | None:
    """The whole body; its size so far once over ``limit``; None if the client left."""
    chunks, seen = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return seen
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read, then the client's own messages (a disconnect, while it waits)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(n: int, limit: int) -> str:
    return (
        f"the request body is {n} bytes; the limit is {limit} "
        "(send fewer or shorter texts, or raise ATTNSERVE_MAX_REQUEST_BYTES)"
    )


def _limited(receive: Receive, limit: int) -> Receive:
    """Count body bytes as they arrive (chunked bodies have no Content-Length)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(
                    413,
                    f"the request body is over {limit} bytes; {_too_large(seen, limit).split('; ', 1)[1]}",
                )
        return message

    return wrapped


async def _refuse(send: Send, path: str, status: int, type_: str, message: str) -> None:
    """The API's error envelope (``errors.error_response``), sent before any route ran."""
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    response = error_response(path, status, type_, message, headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
