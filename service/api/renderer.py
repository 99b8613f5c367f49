"""Where /v1/attention answers are built: every attention map rounded into JSON, or drawn
as a PNG. This is the costliest work a request can ask for (megabytes of JSON, a figure to
draw), so it runs on threads of its own — never the event loop, never the pool that
tokenises every request — a few at a time, with its own admission: beyond
``ATTNSERVE_MAX_RENDERS`` built or waiting, 429 at once; past the request's deadline, 504."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from service.api.errors import ApiError

T = TypeVar("T")


class Renderer:
    def __init__(self, workers: int, max_renders: int) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="render")
        self.max_renders = max(workers, max_renders)
        self.busy = 0  # answers being built or waiting for a thread (owned here)

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the renderer's threads, finished before ``deadline``
        (monotonic) or a 504; a 429 when as many answers as it takes are under way."""
        if self.busy >= self.max_renders:
            raise ApiError(
                429,
                "overloaded",
                f"{self.busy} attention answers are being built, the most at once "
                "(ATTNSERVE_MAX_RENDERS); retry after 1 s",
                {"Retry-After": "1"},
            )
        self.busy += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        future.add_done_callback(self._done)  # counted until the thread is free again
        try:
            return await asyncio.wait_for(asyncio.shield(future), deadline - time.monotonic())
        except TimeoutError:
            raise ApiError(
                504, "timeout", "the answer was not ready before the request's deadline"
            ) from None

    def _done(self, _: asyncio.Future[Any]) -> None:
        self.busy -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
