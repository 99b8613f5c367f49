"""The front door against a real ``attnserve serve``, as a hostile client meets it: raw
sockets that stall, trickle, flood headers or hold connections open. Each test is one
finding of the hardening review (issue 17), replayed; the limits are set small so that
each case takes a second or two."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.processes import scrape, total
from service.door import DoorLimits, door, raise_open_files, refusal
from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow

LIMITS = {
    "ATTNSERVE_HEADER_TIMEOUT_S": "1",
    "ATTNSERVE_BODY_TIMEOUT_S": "1",
    "ATTNSERVE_MAX_CONNECTIONS": "40",
    "ATTNSERVE_MAX_IN_FLIGHT": "4",
    "ATTNSERVE_MAX_HEADER_BYTES": "8192",
    "ATTNSERVE_MAX_HEADERS": "50",
    "ATTNSERVE_KEEP_ALIVE_S": "1",
}
BODY = json.dumps({"texts": ["A moving, beautifully acted film."]}).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("door"), **LIMITS)
    yield s
    stop(s)


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _head(length: int = len(BODY), path: str = "/v1/classify") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _reply(sock: socket.socket, timeout: float = 10) -> str:
    """Everything the server sends until it closes (or ``timeout``)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks).decode(errors="replace")


def _wait_for_queue(server: Server, ready: Callable[[float], bool], seconds: float = 10) -> float:
    """Poll ``attnserve_queue_depth`` for en-fr until ``ready(depth)``; the depth seen."""
    deadline = time.monotonic() + seconds
    while True:
        depth = total(scrape(server.url), "attnserve_queue_depth", model="en-fr")
        if ready(depth) or time.monotonic() > deadline:
            return depth
        time.sleep(0.02)


def _classify_ok(server: Server) -> float:
    started = time.monotonic()
    r = httpx.post(
        f"{server.url}/v1/classify",
        content=BODY,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return time.monotonic() - started


def test_stalled_uploads_hold_no_in_flight_place_and_time_out(server: Server) -> None:
    """Finding 2: uploads that stall after a few body bytes used to hold every in-flight
    place (429 for everyone); now they hold none and get 408 after the body timeout."""
    stalled = []
    for _ in range(10):  # more than ATTNSERVE_MAX_IN_FLIGHT=4
        sock = _connect(server)
        sock.sendall(_head() + BODY[:5])
        stalled.append(sock)
    time.sleep(0.3)
    assert total(scrape(server.url), "attnserve_requests_in_flight") == 0
    for _ in range(3):
        assert _classify_ok(server) < 5
    started = time.monotonic()
    replies = [_reply(s) for s in stalled]
    assert all(r.startswith("HTTP/1.1 408") for r in replies), replies[0]
    assert "send the body without pauses" in replies[0]
    assert time.monotonic() - started < 5  # 1 s of no progress, checked every second
    for s in stalled:
        s.close()
    time.sleep(0.2)
    log = server.log.read_text()  # each is logged as a client that left, never as an error
    assert "POST /v1/classify 499" in log and "POST /v1/classify 500" not in log


def test_a_trickled_body_is_refused_for_its_rate(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(_head(length=100_000))
    sock.settimeout(0.5)
    started, answer = time.monotonic(), b""
    while time.monotonic() - started < 10:
        try:
            sock.sendall(b" " * 50)  # 50 bytes every 0.3 s: always progress, far too slow
            answer += sock.recv(65536)
            if answer:
                break
        except TimeoutError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.3)
    text = answer.decode()
    assert text.startswith("HTTP/1.1 408") and "bytes/s, under 1024" in text, text
    sock.close()


def test_silent_and_slowloris_connections_are_closed(server: Server) -> None:
    """Finding 3: connections that send nothing, or headers a byte at a time, stayed open
    for good; now they close after the header timeout (408 once a head has begun)."""
    silent = [_connect(server) for _ in range(10)]
    slow = _connect(server)
    slow.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    deadline = started + 10
    while time.monotonic() < deadline:
        try:
            slow.sendall(b"X")  # one byte of a header every 0.2 s
        except (BrokenPipeError, ConnectionResetError):
            break
        slow.settimeout(0.2)
        try:
            if slow.recv(65536, socket.MSG_PEEK):
                break
        except TimeoutError:
            continue
    assert _reply(slow).startswith("HTTP/1.1 408")
    assert all(_reply(s, 5) == "" for s in silent)  # closed without a word
    assert time.monotonic() - started < 5
    for s in [*silent, slow]:
        s.close()


def test_oversized_heads_are_refused_before_they_are_buffered(server: Server) -> None:
    big = _connect(server)
    big.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000)
    assert _reply(big).startswith("HTTP/1.1 431")
    many = _connect(server)
    headers = b"".join(b"X-%d: 1\r\n" % i for i in range(60))
    many.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    text = _reply(many)
    assert text.startswith("HTTP/1.1 431") and "over 50 headers" in text, text
    for s in (big, many):
        s.close()
    assert httpx.get(f"{server.url}/v2/health/live").status_code == 200


def test_request_lines_the_service_does_not_speak_are_refused(server: Server) -> None:
    cases = {
        b"GET /v2/health/live HTTP/2.0\r\nHost: x\r\n\r\n": "HTTP/1.1 505",
        b"GET /v2/health/live HTTP/1.1\r\n\r\n": "HTTP/1.1 400",  # 1.1 needs Host
        b"GET /v2/health/live HTTP/1.0\r\n\r\n": "HTTP/1.1 200",  # 1.0 does not
    }
    for request, status in cases.items():
        sock = _connect(server)
        sock.sendall(request)
        assert _reply(sock).startswith(status), request
        sock.close()


def test_beyond_the_connection_cap_a_new_connection_hears_503_and_the_log_says_so(
    server: Server,
) -> None:
    """Finding 3: idle sockets up to the file limit made every new client's connection
    reset, with nothing in the log; now the cap refuses with a 503 and a log line, and the
    connections that are open keep being served."""
    held = []
    try:
        for _ in range(40):
            held.append(_connect(server))
        time.sleep(0.2)
        extra = _connect(server)
        text = _reply(extra)
        assert text.startswith("HTTP/1.1 503") and "too many open connections" in text, text
        extra.close()
        held[0].sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        held[0].settimeout(5)
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    assert "door: 40 connections are open" in server.log.read_text()
    metrics = scrape(server.url)
    assert total(metrics, "attnserve_door_refusals_total", reason="connections") >= 1
    assert total(metrics, "attnserve_door_refusals_total", reason="idle") >= 10


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert _reply(sock, 5) == ""  # closed by the server, not by the timeout here
    assert time.monotonic() - started < 3
    sock.close()


def test_while_every_in_flight_place_is_taken_the_door_answers_429_and_liveness(
    server: Server,
) -> None:
    """The door's own answers (no task, no middleware): a flood of inference requests is
    refused at the cost of parsing a head, and the liveness probe keeps answering."""
    import concurrent.futures as cf

    texts = [f"The file number {i} could not be saved because the disk is full." for i in range(8)]
    slow = {"texts": texts, "beam_size": 8, "timeout": 120}
    with cf.ThreadPoolExecutor(4) as pool:
        busy = [
            pool.submit(httpx.post, f"{server.url}/v1/translate", json=slow, timeout=120)
            for _ in range(4)  # ATTNSERVE_MAX_IN_FLIGHT=4
        ]
        deadline = time.monotonic() + 30
        while total(scrape(server.url), "attnserve_requests_in_flight") < 4:
            assert time.monotonic() < deadline, "the four requests never were in flight"
            time.sleep(0.02)
        refused = httpx.post(f"{server.url}/v1/classify", content=BODY, timeout=10)
        v2 = httpx.post(f"{server.url}/v2/models/sentiment/infer", content=b"{}", timeout=10)
        live = httpx.get(f"{server.url}/v2/health/live", timeout=10)
        codes = [f.result().status_code for f in busy]
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "every in-flight place is taken" in refused.json()["error"]["message"]
    assert v2.status_code == 429 and "in-flight" in v2.json()["error"]  # the V2 envelope
    assert live.status_code == 200 and codes == [200] * 4
    metrics = scrape(server.url)
    assert total(metrics, "attnserve_door_refusals_total", reason="in_flight") >= 2
    assert total(metrics, "attnserve_requests_total", outcome="rejected") >= 2
    assert "429 at the door: every in-flight place is taken" in server.log.read_text()


def test_a_refusal_is_a_complete_answer_in_the_api_s_envelope() -> None:
    head, _, body = refusal(503, "overloaded", "too many", "/v1/classify").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable") and b"retry-after: 1" in head
    assert f"content-length: {len(body)}".encode() in head and b"connection: close" in head
    assert json.loads(body) == {"error": {"type": "overloaded", "message": "too many"}}
    _, _, v2 = refusal(408, "timeout", "slow", "/v2/models/x/infer").partition(b"\r\n\r\n")
    assert json.loads(v2) == {"error": "slow"}


def test_the_protocol_class_carries_its_limits() -> None:
    limits = DoorLimits(max_connections=3)
    seen: list[str] = []
    cls = door(limits, seen.append)
    assert cls.limits is limits
    cls.on_refused("idle")
    assert seen == ["idle"]


def test_the_open_file_limit_is_raised_only_as_far_as_the_hard_limit(tmp_path: Path) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        got = raise_open_files(soft + 1)
        cap = soft + 1 if hard == resource.RLIM_INFINITY else min(soft + 1, hard)
        assert got == cap == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raise_open_files(1) == got  # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_request_pipelined_behind_a_door_answer_is_not_cut_by_keep_alive(
    server: Server,
) -> None:
    """The door's canned answer arms the keep-alive timer; a request pipelined behind it in
    the same packet must disarm it, or a request longer than ATTNSERVE_KEEP_ALIVE_S (1 s
    here) would be cut off."""
    texts = [f"The file number {i} could not be saved because the disk is full." for i in range(8)]
    body = json.dumps({"texts": texts, "beam_size": 8, "timeout": 120}).encode()
    sock = _connect(server)
    started = time.monotonic()
    sock.sendall(
        b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
        + _head(len(body), "/v1/translate")
        + body
    )
    replies = _reply(sock, 60)
    assert time.monotonic() - started > 1.0  # the translation outlasted the keep-alive
    assert replies.startswith("HTTP/1.1 200") and replies.count("HTTP/1.1 200") == 2, replies[:300]
    assert '"translation"' in replies
    sock.close()


def test_a_client_that_hangs_up_while_queued_is_dropped_through_the_door(
    tmp_path: Path,
) -> None:
    """A real server with one engine worker and batches of 4: a 64-text translation holds it
    (16 static batches, or 4 sources at a time in the running batch), a second request waits
    in the queue behind all of them, and its client closes the socket. The door resolves that request's disconnect future, its items are
    cancelled and never run (counted as cancelled). The queue is read from the metrics
    before the hang-up, so the test's premise does not rest on how fast the host is."""
    s = start(tmp_path, ATTNSERVE_ENGINE_WORKERS="1", ATTNSERVE_MAX_BATCH_SIZE="4")
    try:
        long_texts = [
            f"The file number {i} could not be saved to the selected folder." for i in range(64)
        ]
        holder = json.dumps({"texts": long_texts, "beam_size": 8, "timeout": 120}).encode()
        queued = json.dumps({"texts": ["Open the file"] * 3, "beam_size": 2, "timeout": 120})
        first, second = _connect(s), _connect(s)
        first.sendall(_head(len(holder), "/v1/translate") + holder)
        before = _wait_for_queue(s, lambda depth: depth >= 40)  # most of the holder waits
        second.sendall(_head(len(queued), "/v1/translate") + queued.encode())
        # its 3 texts queued behind the holder's (which leave one or four at a time)
        waiting = _wait_for_queue(s, lambda depth: depth >= before + 2)
        second.close()
        # the queued request was still waiting when it hung up: texts leave the queue in
        # order, and the holder's were still ahead of its three
        assert waiting >= before + 2 and waiting > 3, (before, waiting)
        first.settimeout(300)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += first.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        first.close()
        deadline = time.monotonic() + 10
        cancelled = 0.0
        while time.monotonic() < deadline:
            samples = scrape(s.url)
            cancelled = total(
                samples, "attnserve_rejections_total", model="en-fr", reason="cancelled"
            )
            if cancelled:
                break
            time.sleep(0.1)
        assert cancelled == 3
        assert (
            total(samples, "attnserve_requests_total", endpoint="translate", outcome="cancelled")
            == 1
        )
    finally:
        stop(s)
