"""A load generator that costs little CPU: raw HTTP/1.1 over asyncio streams, keep-alive
connections, requests encoded once before the run.

- ``closed_loop``: N clients, each sends its next request as soon as its answer arrives
  (fixed concurrency; throughput is what the server sustains at that concurrency).
- ``open_loop``: requests arrive on a Poisson schedule at a fixed rate, whether or not
  earlier ones were answered (what real traffic does), so a server that falls behind is
  charged for its backlog (no coordinated omission). Latency counts from the moment the
  generator fires a request, a wait for a free connection included; how late the
  generator itself fires (timer resolution, its own load) is reported apart, as
  ``schedule_lag_p99_ms``, rather than charged to the server.

Both return a ``Point``: throughput and latency percentiles of the answered requests.
``each_once`` sends a list of bodies once each and keeps the answers (for the tools that
check what the service answered, e.g. ``served_identity``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


def encode(host_port: str, path: str, body: Any) -> bytes:
    """One POST, ready to write to a keep-alive connection."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


class HttpError(RuntimeError):
    """The server answered something this client cannot read as HTTP/1.1."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.headers: dict[str, str] = {}  # of the last response, names lower-cased

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body) of one request on this connection."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"not an HTTP status line: {lines[0]!r}") from None
        headers = self.headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = bytearray()
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                body += await self.reader.readexactly(size + 2)
                del body[-2:]
            await self.reader.readuntil(b"\r\n")
            return status, bytes(body)
        raise HttpError("response without Content-Length or chunked encoding")

    def close(self) -> None:
        self.writer.close()

    @property
    def usable(self) -> bool:
        """Still open at the server's end (servers close idle keep-alive connections)."""
        return not self.reader.at_eof() and not self.writer.is_closing()


async def reuse(idle: list[Connection], host: str, port: int) -> Connection:
    """An idle keep-alive connection the server has not closed, else a new one."""
    while idle:
        conn = idle.pop()
        if conn.usable:
            return conn
        conn.close()
    return await Connection.open(host, port)


@dataclass
class Point:
    """One measured point of a sweep."""

    mode: str  # "closed" or "open"
    load: float  # concurrency, or offered requests per second
    seconds: float
    sent: int
    ok: int
    errors: dict[str, int] = field(default_factory=dict)  # status (or exception) → count
    latencies: list[float] = field(default_factory=list, repr=False)  # answered 200s, seconds
    schedule_lag_ms: float | None = None  # open loop: p99 of how late requests left
    # open loop: (index into the requests, latency) of each answered 200
    by_request: list[tuple[int, float]] = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        """Answered (200) requests per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def record(self, status: int | str, latency: float) -> None:
        """One answer: a 200's latency, or the status (or exception name) counted."""
        if status == 200:
            self.ok += 1
            self.latencies.append(latency)
        else:
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "load": self.load,
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "throughput": round(self.throughput, 2),
            **{
                f"p{int(q * 100)}_ms": round(self.percentile(q) * 1000, 2)
                for q in (0.5, 0.95, 0.99)
            },
            **(
                {}
                if self.schedule_lag_ms is None
                else {"schedule_lag_p99_ms": self.schedule_lag_ms}
            ),
        }


async def _send(conn: Connection, raw: bytes) -> int | str:
    try:
        status, _ = await conn.request(raw)
        return status
    except (OSError, asyncio.IncompleteReadError, HttpError) as e:
        return type(e).__name__


async def closed_loop(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, seconds: float
) -> Point:
    """``concurrency`` clients send requests (cycling through ``requests``) for ``seconds``."""
    point = Point("closed", concurrency, 0.0, 0, 0)
    started = time.perf_counter()
    deadline = started + seconds
    counter = iter(range(1 << 62))

    async def client() -> None:
        conn = await Connection.open(host, port)
        try:
            while time.perf_counter() < deadline:
                raw = requests[next(counter) % len(requests)]
                t0 = time.perf_counter()
                point.sent += 1
                status = await _send(conn, raw)
                point.record(status, time.perf_counter() - t0)
                if not isinstance(status, int):  # the connection broke: open another
                    conn.close()
                    conn = await Connection.open(host, port)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    point.seconds = time.perf_counter() - started
    return point


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    seconds: float,
    max_connections: int = 512,
    seed: int = 0,
    observe: Callable[[int | str, float, dict[str, str]], None] | None = None,
) -> Point:
    """Poisson arrivals at ``rate`` per second for ``seconds``; every request is answered
    (or fails) before this returns. Up to ``max_connections`` requests in flight: beyond
    that an arrival waits for a connection, and its latency includes the wait.
    ``observe(status, latency, headers)`` sees every answer (headers empty on a failure)."""
    point = Point("open", rate, 0.0, 0, 0)
    rng = random.Random(seed)
    idle: list[Connection] = []
    slots = asyncio.Semaphore(max_connections)
    tasks: list[asyncio.Task[None]] = []

    async def one(index: int, fired: float) -> None:
        async with slots:  # a wait for a free connection counts in the latency
            conn = await reuse(idle, host, port)
            status = await _send(conn, requests[index])
            point.record(status, time.perf_counter() - fired)
            if status == 200:
                point.by_request.append((index, time.perf_counter() - fired))
            if observe is not None:
                observe(
                    status,
                    time.perf_counter() - fired,
                    conn.headers if isinstance(status, int) else {},
                )
            if isinstance(status, int):
                idle.append(conn)
            else:
                conn.close()

    started = time.perf_counter()
    scheduled, i, lags = started, 0, []
    while scheduled < started + seconds:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        fired = time.perf_counter()
        lags.append(fired - scheduled)  # the generator's own lateness (timer resolution, load)
        tasks.append(asyncio.create_task(one(i % len(requests), fired)))
        point.sent += 1
        i += 1
        scheduled += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    point.seconds = time.perf_counter() - started
    point.schedule_lag_ms = round(1000 * sorted(lags)[int(0.99 * (len(lags) - 1))], 2)
    for conn in idle:
        conn.close()
    return point


@dataclass
class Run:
    """Every body sent once (``each_once``): answers in the order of the bodies."""

    seconds: float
    status: list[int | str]
    latency: list[float]
    bodies: list[Any]  # the JSON answers (None where the answer is not JSON)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latency)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def each_once(url: str, path: str, bodies: Sequence[Any], clients: int) -> Run:
    """POST every JSON body once, ``clients`` at a time, each client on one keep-alive
    connection, keeping the answers (the tools that check what the service answered)."""
    where = urlsplit(url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    raw = [encode(f"{host}:{port}", path, b) for b in bodies]
    status: list[int | str] = [0] * len(raw)
    latency = [0.0] * len(raw)
    answers: list[Any] = [None] * len(raw)
    todo = iter(range(len(raw)))

    async def client() -> None:
        conn = await Connection.open(host, port)
        try:
            for i in todo:
                t0 = time.perf_counter()
                try:
                    status[i], body = await conn.request(raw[i])
                except (OSError, asyncio.IncompleteReadError, HttpError) as e:
                    status[i] = type(e).__name__
                    conn.close()
                    conn = await Connection.open(host, port)
                    continue
                latency[i] = time.perf_counter() - t0
                if conn.headers.get("content-type", "").startswith("application/json"):
                    answers[i] = json.loads(body)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(time.perf_counter() - started, status, latency, answers)
