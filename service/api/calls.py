"""What every inference route does: find the model, check the texts, tokenise off the
event loop, queue, await the batcher (or the client's disconnect), time it."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from service.api.errors import ApiError
from service.engine.batcher import (
    DeadlineExceeded,
    Done,
    EngineError,
    QueueFull,
    Rejected,
    ShuttingDown,
)
from service.engine.handlers import InputError
from service.engine.registry import Registry, Slot
from service.settings import Settings

T = TypeVar("T")

# C0 controls other than tab, LF, CR; DEL; C1 controls; unpaired surrogates
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
ROUTE_OF = {"classification": "/v1/classify", "translation": "/v1/translate"}


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


def lease(request: Request, slot: Slot) -> Slot:
    """Hold ``slot`` for this request: a reload swaps in a new version at once, but the
    replaced one closes only when the requests holding it are done (the middleware releases
    the lease when the response is sent)."""
    slot.acquire()
    request.scope.setdefault("state", {}).setdefault("leases", []).append(slot)
    return slot


def slot_for(
    registry: Registry, name: str | None, task: str | None, request: Request | None = None
) -> Slot:
    """The named model (or the first of ``task``), ready to serve — leased to ``request`` —;
    404/409/503 otherwise."""
    if name is None:
        names = sorted(n for n, s in registry.slots.items() if s.task == task)
        if not names:
            raise ApiError(503, "unavailable", f"no {task} model is loaded; see GET /v1/models")
        name = names[0]
    slot = registry.get(name)
    if slot is None:
        have = ", ".join(sorted(registry.slots)) or "none"
        raise ApiError(404, "model_not_found", f"no model {name!r}; models served: {have}")
    if slot.state == "loading":
        raise ApiError(503, "unavailable", f"model {name!r} is still loading; retry shortly")
    if slot.state == "unloaded":
        raise ApiError(503, "unavailable", f"model {name!r} is {slot.error}")
    if not slot.ready:
        raise ApiError(503, "unavailable", f"model {name!r} failed to load: {slot.error}")
    if task is not None and slot.task != task:
        route = ROUTE_OF.get(slot.task or "", "/v1/models")
        raise ApiError(
            422, "wrong_task", f"model {name!r} is a {slot.task} model; send it to {route}"
        )
    return lease(request, slot) if request is not None else slot


def check_version(slot: Slot, version: str | None) -> None:
    if version is not None and version != str(slot.version):
        raise ApiError(
            404,
            "version_not_found",
            f"model {slot.name!r} serves version {slot.version}, not {version!r} "
            f"(versions in the repository: {', '.join(map(str, slot.versions))}; "
            "pin one with ATTNSERVE_VERSIONS)",
        )


def check_count(texts: Sequence[str], settings: Settings, field: str = "texts") -> None:
    """The cheap part of ``check_texts``: run before admission, so that a request that can
    never succeed hears 422, not 429."""
    if not texts:
        raise ApiError(422, "invalid_request", f"{field} is empty: send at least one text")
    if len(texts) > settings.max_texts:
        raise ApiError(
            422,
            "too_many_texts",
            f"{len(texts)} texts in one request; send at most {settings.max_texts} "
            "(split the request, or raise ATTNSERVE_MAX_TEXTS)",
        )


def check_texts(texts: Sequence[str], settings: Settings, field: str = "texts") -> None:
    check_count(texts, settings, field)
    for i, text in enumerate(texts):
        where = f"{field}[{i}]" if len(texts) > 1 or field == "texts" else field
        if not text.strip():
            raise ApiError(422, "empty_text", f"{where} is empty or only whitespace; send words")
        if len(text) > settings.max_chars:
            raise ApiError(
                422,
                "text_too_long",
                f"{where} has {len(text)} characters; the limit is {settings.max_chars} "
                "(shorten or split it)",
            )
        bad = _CONTROL.search(text)
        if bad:
            raise ApiError(
                422,
                "invalid_text",
                f"{where} contains the control character U+{ord(bad.group()):04X} at position "
                f"{bad.start()}; remove it (tab, newline and carriage return are fine)",
            )
        bad = _SURROGATE.search(text)
        if bad:
            raise ApiError(
                422,
                "invalid_text",
                f"{where} contains an unpaired surrogate U+{ord(bad.group()):04X} at position "
                f"{bad.start()}; send valid Unicode",
            )


def deadline_of(timeout: float | None, settings: Settings) -> float:
    if timeout is None:
        timeout = settings.request_timeout_s
    if not 0 < timeout <= settings.max_timeout_s:
        raise ApiError(
            422,
            "invalid_request",
            f"timeout must be above 0 and at most {settings.max_timeout_s} seconds, got {timeout}",
        )
    return time.monotonic() + timeout


def admit(request: Request, slot: Slot, count: int, deadline: float) -> None:
    """429 at once, before any tokenising, when the model's queue is full or the work queued
    ahead would outlast this request's deadline: under overload the service spends its CPU
    on the requests it can serve, not on ones it would refuse anyway. The ``count`` items
    then count as queued until ``run`` queues them (or the request ends)."""
    batcher = slot.batcher
    assert batcher is not None
    try:
        ticket = batcher.admit(count, deadline)
    except QueueFull as e:
        raise _overloaded(slot, e) from None
    except ShuttingDown as e:
        raise ApiError(503, "shutting_down", str(e), {"Retry-After": "1"}) from None
    batcher.reserved += count
    request.scope.setdefault("state", {})["reserved"] = (batcher, count, ticket)


def unreserve(state: dict[str, Any]) -> tuple[float, float] | None:
    """Give back what ``admit`` reserved (when the items are queued, or the request ends);
    the admission ticket for ``submit``."""
    held = state.pop("reserved", None)
    if held is None:
        return None
    batcher, count, ticket = held
    batcher.reserved -= count
    return ticket


def _overloaded(slot: Slot, e: QueueFull) -> ApiError:
    wait = str(max(1, math.ceil(e.retry_after_s)))
    return ApiError(
        429,
        "overloaded",
        f"model {slot.name!r} is busy: {e}; retry after {wait} s",
        {"Retry-After": wait},
    )


async def prepare(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Tokenise on a worker thread; a request the model cannot take becomes a 422."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except InputError as e:
        raise ApiError(422, "invalid_input", str(e)) from None


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def run(
    request: Request, slot: Slot, items: Sequence[tuple[Any, int]], key: Any, deadline: float
) -> list[Done[Any]]:
    """Queue the items and await them all; cancel them if the client goes away."""
    assert slot.batcher is not None
    ticket = unreserve(request.scope.get("state", {}))
    try:
        futures = slot.batcher.submit(items, key, deadline, ticket)
    except QueueFull as e:
        raise _overloaded(slot, e) from None
    except ShuttingDown as e:
        raise ApiError(503, "shutting_down", str(e), {"Retry-After": "1"}) from None
    results: asyncio.Future[list[Any]] = asyncio.gather(*futures, return_exceptions=True)
    gone: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait([results, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not results.done():
            for f in futures:
                f.cancel()
        gone.cancel()
    if not results.done() or results.cancelled():
        raise ClientGone()
    outcomes = results.result()
    for error in outcomes:
        if isinstance(error, DeadlineExceeded):
            raise ApiError(504, "timeout", f"{error}; raise 'timeout' or retry later")
        if isinstance(error, ShuttingDown):
            raise ApiError(503, "shutting_down", str(error), {"Retry-After": "1"}) from None
        if isinstance(error, Rejected):
            raise ApiError(503, error.reason, str(error))
        if isinstance(error, EngineError):
            raise ApiError(500, "engine_error", f"inference failed for this batch: {error}")
        if isinstance(error, BaseException):
            raise ApiError(500, "engine_error", f"inference failed: {type(error).__name__}")
    return list(outcomes)


@dataclass
class Timing:
    started: float
    queue_s: float = 0.0
    compute_s: float = 0.0
    batch_size: int = 0

    def add(self, done: Sequence[Done[Any]]) -> None:
        self.queue_s = max([self.queue_s, *(d.queue_s for d in done)])
        self.compute_s += max((d.compute_s for d in done), default=0.0)
        self.batch_size = max([self.batch_size, *(d.batch_size for d in done)])

    def headers(self) -> dict[str, str]:
        total = time.perf_counter() - self.started
        return {
            "Server-Timing": (
                f"queue;dur={self.queue_s * 1000:.2f}, compute;dur={self.compute_s * 1000:.2f}, "
                f"total;dur={total * 1000:.2f}"
            ),
            "X-Batch-Size": str(self.batch_size),
        }
