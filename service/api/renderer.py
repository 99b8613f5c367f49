"""Where /v1/attention answers are built: every attention map rounded into JSON, or drawn
as a PNG. This is the costliest work a request can ask for (megabytes of JSON, a figure to
draw), so it runs on a thread of its own — never the event loop, never the pool that
tokenises every request — with its own admission: a request takes a place before any of
its work is done (before inference too), and beyond ``ATTNSERVE_MAX_RENDERS`` places it
hears 429 at once; past the request's deadline, 504."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from service.api.errors import ApiError

T = TypeVar("T")


class Renderer:
    def __init__(self, workers: int, max_renders: int) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="render")
        self.max_renders = max(workers, max_renders)
        self.busy = 0  # places taken: requests under way, or their thread still drawing

    @contextlib.contextmanager
    def place(self) -> Iterator[Place]:
        """A place for one answer for as long as the block runs (and its thread, if it
        outlives the block); 429 when every place is taken."""
        if self.busy >= self.max_renders:
            raise ApiError(
                429,
                "overloaded",
                f"{self.busy} attention answers are being built, the most at once "
                "(ATTNSERVE_MAX_RENDERS); retry after 1 s",
                {"Retry-After": "1"},
            )
        self.busy += 1
        place = Place(self)
        try:
            yield place
        finally:
            place.release()

    def _free(self, *_: Any) -> None:
        self.busy -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Place:
    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer
        self._running: asyncio.Future[Any] | None = None

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the renderer's thread, done before ``deadline`` (monotonic)
        or a 504."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._renderer._executor, fn, *args)
        self._running = future
        try:
            return await asyncio.wait_for(asyncio.shield(future), deadline - time.monotonic())
        except TimeoutError:
            raise ApiError(
                504, "timeout", "the answer was not ready before the request's deadline"
            ) from None

    def release(self) -> None:
        if self._running is not None and not self._running.done():
            self._running.add_done_callback(self._renderer._free)  # the thread still draws
        else:
            self._renderer._free()
