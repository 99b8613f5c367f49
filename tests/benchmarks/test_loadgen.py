"""The load generator against a real attnserve process and against a scripted HTTP peer:
requests answered and timed, errors counted by status, chunked bodies read, the open loop
keeps its schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from benchmarks import loadgen
from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("loadgen"))
    yield s
    stop(s)


def _requests(server: Server) -> list[bytes]:
    texts = ["A moving film.", "Dull and long.", "Not bad at all, really."]
    return [loadgen.encode(server.host_port, "/v1/classify", {"texts": [t]}) for t in texts]


def _port(server: Server) -> int:
    return int(server.host_port.split(":")[1])


def test_each_body_once_with_its_answer_in_order(server: Server) -> None:
    texts = [
        f"Review {i}: {'a moving, lovely film' if i % 2 else 'dull and far too long'}."
        for i in range(9)
    ]
    run = asyncio.run(
        loadgen.each_once(server.url, "/v1/classify", [{"texts": [t]} for t in texts], 3)
    )
    assert run.status == [200] * 9 and all(x > 0 for x in run.latency)
    labels = [b["results"][0]["label"] for b in run.bodies]
    assert labels == ["positive" if i % 2 else "negative" for i in range(9)]
    assert 0 < run.percentile(0.5) <= run.percentile(0.99) <= run.seconds


def test_closed_loop_against_the_service(server: Server) -> None:
    p = asyncio.run(loadgen.closed_loop("127.0.0.1", _port(server), _requests(server), 4, 1.0))
    assert p.errors == {} and p.ok == p.sent > 20
    assert len(p.latencies) == p.ok and 0 < p.percentile(0.5) <= p.percentile(0.99) < 1.0
    summary = p.summary()
    assert summary["throughput"] == pytest.approx(p.ok / p.seconds, rel=0.01)
    assert set(summary) >= {"p50_ms", "p95_ms", "p99_ms", "sent", "ok", "errors"}


def test_open_loop_keeps_its_schedule(server: Server) -> None:
    p = asyncio.run(loadgen.open_loop("127.0.0.1", _port(server), _requests(server), 80, 1.5))
    assert p.errors == {} and p.ok == p.sent
    assert 80 <= p.sent <= 170  # Poisson arrivals at 80/s for 1.5 s: 120 expected


def test_errors_are_counted_by_status(server: Server) -> None:
    bad = [loadgen.encode(server.host_port, "/v1/classify", {"texts": []})]
    p = asyncio.run(loadgen.closed_loop("127.0.0.1", _port(server), bad, 2, 0.3))
    assert p.ok == 0 and p.errors == {"422": p.sent}


async def _scripted_peer(responses: list[bytes]) -> tuple[asyncio.Server, int]:
    """An HTTP peer that answers each request with the next scripted response."""
    script = iter(responses)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(next(script))
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def test_chunked_and_sized_bodies_and_a_broken_peer() -> None:
    async def scenario() -> list[tuple[int, bytes]]:
        srv, port = await _scripted_peer(
            [
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
                b"garbage\r\n\r\n",
            ]
        )
        conn = await loadgen.Connection.open("127.0.0.1", port)
        raw = loadgen.encode(f"127.0.0.1:{port}", "/x", {"a": 1})
        out = [await conn.request(raw) for _ in range(3)]
        with pytest.raises(loadgen.HttpError, match="not an HTTP status line"):
            await conn.request(raw)
        conn.close()
        await asyncio.sleep(0.1)  # the peer sees the close and closes its side
        srv.close()
        await srv.wait_closed()
        return out

    assert asyncio.run(scenario()) == [(200, b"hello"), (200, b"abcde"), (503, b"")]


def test_percentiles_of_an_empty_point_are_nan() -> None:
    p = loadgen.Point("closed", 1, 1.0, 0, 0)
    assert p.throughput == 0 and p.percentile(0.5) != p.percentile(0.5)


def test_requests_are_encoded_once_as_http() -> None:
    raw = loadgen.encode("h:1", "/v1/classify", {"texts": ["é"]})
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/classify HTTP/1.1\r\nHost: h:1")
    assert f"Content-Length: {len(body)}".encode() in head
