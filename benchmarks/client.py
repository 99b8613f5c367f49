"""A small asyncio load generator: N concurrent clients, each sending its next request as
soon as its previous answer arrives (closed loop), over one HTTP/1.1 connection each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.processes import scrape, total


@dataclass
class Run:
    seconds: float
    status: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latency)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def closed_loop(
    url: str, path: str, bodies: Sequence[dict[str, Any]], clients: int, timeout: float = 120
) -> Run:
    """POST every body once, ``clients`` at a time; answers in the order of ``bodies``."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    status = [0] * len(bodies)
    latency = [0.0] * len(bodies)
    answers: list[Any] = [None] * len(bodies)

    async def client() -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                r = await http.post(path, json=bodies[i])
                latency[i] = time.perf_counter() - started
                status[i] = r.status_code
                answers[i] = (
                    r.json()
                    if r.headers.get("content-type", "").startswith("application/json")
                    else None
                )

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(time.perf_counter() - started, status, latency, answers)


def batch_stats(url: str, model: str) -> tuple[float, float]:
    """(texts run, batches run) so far, from /metrics."""
    samples = scrape(url)
    return (
        total(samples, "attnserve_batch_size_sum", model=model),
        total(samples, "attnserve_batch_size_count", model=model),
    )
