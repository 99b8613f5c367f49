"""One inference request on its way through the service, the same for both protocols:
``find`` the model, then ``async with begin(...) as call`` — which holds the model's
version (a lease) and the request's places in its queue (a ticket) for as long as the
block runs, and gives both back on every path — and inside it ``call.answer`` (the
handler's items for some texts under a batch key, run) or its two steps ``call.prepare``
(tokenise off the event loop) and ``call.infer`` (queue, await the batcher or the client's
disconnect). ``call.timing`` becomes the ``Server-Timing`` header."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from service.api.errors import ApiError
from service.door.protocol import LOST
from service.engine.admission import Ticket
from service.engine.handlers import Handler, InputError
from service.engine.outcomes import (
    DeadlineExceeded,
    Done,
    EngineError,
    QueueFull,
    Rejected,
    ShuttingDown,
)
from service.engine.registry import Registry
from service.engine.slot import Slot

T = TypeVar("T")
ROUTE_OF = {"classification": "/v1/classify", "translation": "/v1/translate"}
# Texts this short in all are tokenised on the event loop (tens of microseconds), not on a
# worker thread: the hop and the futures cost more than the tokenizer does
INLINE_CHARS = 1000


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


def gone_response() -> JSONResponse:
    """What is sent (if anything still can be) for a request whose client left: 499."""
    return JSONResponse({"error": "client disconnected"}, status_code=499)


def find(
    request: Request,
    registry: Registry,
    name: str | None,
    task: str | None = None,
    version: str | None = None,
    ready: bool = True,
) -> Slot:
    """The named model (or the first one of ``task``), serving ``version`` if one is asked
    for and ready unless ``ready=False``; 404, 422 (wrong task) or 503 otherwise.
    The model's name is noted for the access line and the metrics."""
    if name is None:
        names = sorted(n for n, s in registry.slots.items() if s.task == task)
        if not names:
            raise ApiError(503, "unavailable", f"no {task} model is loaded; see GET /v1/models")
        name = names[0]
    request.state.model = name
    slot = registry.get(name)
    if slot is None:
        have = ", ".join(sorted(registry.slots)) or "none"
        raise ApiError(404, "model_not_found", f"unknown model {name!r}; models served: {have}")
    if version is not None and version != str(slot.version):
        raise ApiError(
            404,
            "version_not_found",
            f"model {slot.name!r} serves version {slot.version}, not {version!r} "
            f"(versions in the repository: {', '.join(map(str, slot.versions))}; "
            "pin one with ATTNSERVE_VERSIONS)",
        )
    if not ready:
        return slot
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
    return slot


@dataclass
class Timing:
    started: float = field(default_factory=time.perf_counter)
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


@asynccontextmanager
async def begin(
    request: Request, slot: Slot, deadline: float, count: int, timing: Timing | None = None
) -> AsyncIterator[Call]:
    """Admit ``count`` texts for ``slot`` before any work is spent on them: 429 at once when
    the model's queue is full or the work queued ahead would outlast ``deadline`` (under
    overload the service spends its CPU on the requests it can serve), 503 when it shuts
    down. The request holds the slot's version until the block ends, so a reload lets it
    finish there."""
    batcher = slot.batcher
    assert batcher is not None
    with slot.lease():
        try:
            ticket = batcher.admit(count, deadline)
        except Rejected as e:
            raise failed(slot, e) from None
        try:
            yield Call(request, slot, deadline, ticket, timing or Timing())
        finally:
            ticket.release()


@dataclass
class Call:
    request: Request
    slot: Slot
    deadline: float
    ticket: Ticket
    timing: Timing

    async def prepare(
        self, fn: Callable[..., T], *args: Any, inline: bool = False, **kwargs: Any
    ) -> T:
        """Tokenise (or render) — on a worker thread unless ``inline`` (short texts, where
        the hop costs more than the work); what the model cannot take is a 422."""
        try:
            if inline:
                return fn(*args, **kwargs)
            return await asyncio.to_thread(fn, *args, **kwargs)
        except InputError as e:
            raise ApiError(422, "invalid_input", str(e)) from None

    @property
    def handler(self) -> Handler:
        handler = self.slot.handler
        assert handler is not None  # a slot that begin() admits is ready
        return handler

    async def answer(
        self, texts: Sequence[str], key: Hashable, truncate: bool = False
    ) -> tuple[list[tuple[Any, int]], list[Any]]:
        """The handler's items for ``texts`` and their outputs from batches of ``key``;
        generated tokens are counted."""
        handler = self.handler
        inline = sum(map(len, texts)) <= INLINE_CHARS
        items = await self.prepare(handler.prepare, texts, key, truncate, inline=inline)
        room = self.request.app.state.registry.settings.max_queue
        if len(items) > room:  # texts translated in pieces: more items than texts
            raise ApiError(
                422,
                "too_many_pieces",
                f"these {len(texts)} texts make {len(items)} pieces to translate; a model's "
                f"queue holds {room}: send fewer or shorter texts per request",
            )
        outputs = [d.output for d in await self.infer(items, key)]
        generated = handler.generated(outputs)
        if generated:
            metrics = self.request.app.state.registry.metrics
            metrics.generated.labels(self.slot.name).inc(generated)
        return items, outputs

    def submit(
        self, items: Sequence[tuple[Any, int]], key: Hashable
    ) -> list[asyncio.Future[Done[Any]]]:
        """Queue the items (429 / 503 when they cannot be); their futures."""
        try:
            return self.ticket.submit(items, key, self.deadline)
        except Rejected as e:
            raise failed(self.slot, e) from None

    async def infer(self, items: Sequence[tuple[Any, int]], key: Hashable) -> list[Done[Any]]:
        """Queue the items and await them all (their timings join ``timing``); cancel them
        if the client goes away."""
        futures = self.submit(items, key)
        lost, watcher = _lost(self.request)

        def cancel(_: object) -> None:
            for f in futures:
                f.cancel()

        lost.add_done_callback(cancel)
        outcomes: list[Any] = []
        try:
            for f in futures:
                try:
                    outcomes.append(await f)
                except asyncio.CancelledError:
                    if not lost.done():
                        raise  # this request's own task is cancelled
                    raise ClientGone() from None
                except Exception as e:  # answered once every item is in, as one refusal
                    outcomes.append(e)
        finally:
            lost.remove_done_callback(cancel)
            cancel(None)  # no-op for the items done; the rest are not wanted any more
            if watcher is not None:
                watcher.cancel()
        for error in outcomes:
            if isinstance(error, BaseException):
                raise failed(self.slot, error)
        self.timing.add(outcomes)
        return outcomes


def failed(slot: Slot, error: BaseException) -> ApiError:
    """The answer for an item refused or failed, at admission, at queueing or in its batch."""
    if isinstance(error, QueueFull):  # WouldMissDeadline included
        wait = str(max(1, math.ceil(error.retry_after_s)))
        return ApiError(
            429,
            "overloaded",
            f"model {slot.name!r} is busy: {error}; retry after {wait} s",
            {"Retry-After": wait},
        )
    if isinstance(error, DeadlineExceeded):
        return ApiError(504, "timeout", f"{error}; raise 'timeout' or retry later")
    if isinstance(error, ShuttingDown):
        return ApiError(503, "shutting_down", str(error), {"Retry-After": "1"})
    if isinstance(error, Rejected):
        return ApiError(503, error.reason, str(error))
    if isinstance(error, EngineError):
        return ApiError(500, "engine_error", f"inference failed for this batch: {error}")
    return ApiError(500, "engine_error", f"inference failed: {type(error).__name__}")


def _lost(request: Request) -> tuple[asyncio.Future[Any], asyncio.Task[None] | None]:
    """A future resolved when the client disconnects: the door's (``door.protocol.LOST``),
    or under another server a task that watches the request's messages."""
    lost = request.scope.get(LOST)
    if lost is not None:
        return lost, None
    watcher = asyncio.ensure_future(_disconnected(request))
    return watcher, watcher


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
