"""The long adversarial run (not in CI; `make test` replays each finding small, in
tests/service/test_door.py and test_hostile.py): the hardening review's findings at full
size, against a running service, each printed as a row of what it cost.

    python -m benchmarks.hostile --start                 # make hostile: a server of its own
    python -m benchmarks.hostile --url http://127.0.0.1:8000 --pid <server pid>

``--pid`` lets it read the server's resident memory (/proc). Point it at an older build to
measure "before". About six minutes. Findings: heatmaps of the longest text, stalled uploads, silent and
slowloris connections, huge heads, a flood of non-strings, many large attention answers,
the bodies that once answered 500, and a sustained flood with the liveness probe timed."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import contextlib
import json
import multiprocessing as mp
import resource
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

LONG = " ".join(f"word{i}" for i in range(400))  # past the longest input: truncated to it
CLASSIFY = json.dumps({"texts": ["Great film"]}).encode()


class Target:
    def __init__(self, url: str, pid: int | None) -> None:
        self.url, self.pid = url.rstrip("/"), pid
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80

    def rss_mib(self) -> float | None:
        if self.pid is None:
            return None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=30)

    def live_s(self) -> float:
        """A liveness probe as a kubelet sends one: a new connection, one GET (a raw
        socket, so that the client's own set-up is not timed)."""
        started = time.monotonic()
        try:
            with socket.create_connection((self.host, self.port), timeout=30) as s:
                s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if not s.recv(4096).startswith(b"HTTP/1.1 200"):
                    return float("inf")
        except OSError:
            return float("inf")
        return time.monotonic() - started

    def classify_s(self) -> tuple[int, float]:
        started = time.monotonic()
        r = httpx.post(
            f"{self.url}/v1/classify",
            content=CLASSIFY,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        return r.status_code, time.monotonic() - started


def _status(raw: bytes) -> str:
    return raw.split(b"\r\n", 1)[0].decode(errors="replace")[9:12] or "closed"


def _probe_while(t: Target, busy: Callable[[], bool]) -> list[float]:
    times = []
    while busy():
        times.append(t.live_s())
        time.sleep(0.02)
    return times or [t.live_s()]


def heatmaps(t: Target) -> list[str]:
    body = {"model": "sentiment", "text": LONG, "truncate": True}
    started = time.monotonic()
    r = httpx.post(f"{t.url}/v1/attention", params={"format": "png"}, json=body, timeout=120)
    one_s = time.monotonic() - started
    px = "-"
    if r.status_code == 200 and r.content[:4] == b"\x89PNG":
        px = str(int.from_bytes(r.content[16:20], "big"))
    before = t.rss_mib()
    with cf.ThreadPoolExecutor(6) as pool:
        many = [
            pool.submit(
                httpx.post,
                f"{t.url}/v1/attention",
                params={"format": "png"},
                json=body,
                timeout=120,
            )
            for _ in range(6)
        ]
        time.sleep(0.2)
        code, classify_s = t.classify_s()
        codes = sorted(f.result().status_code for f in many)
    return [
        f"one PNG of the longest text: {r.status_code}, {px} px wide, {one_s:.2f} s",
        f"six at once: statuses {codes}; a 2-word classify meanwhile: {code} in "
        f"{classify_s:.2f} s; RSS {before} → {t.rss_mib()} MiB",
    ]


def stalled_uploads(t: Target, n: int = 64) -> list[str]:
    socks = []
    for _ in range(n):
        s = t.connect()
        s.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(CLASSIFY)}\r\n\r\n".encode()
            + CLASSIFY[:5]
        )
        socks.append(s)
    time.sleep(0.5)
    honest = [t.classify_s() for _ in range(5)]
    started = time.monotonic()
    answered = []
    for s in socks:
        s.settimeout(max(0.1, 40 - (time.monotonic() - started)))
        try:
            answered.append(_status(s.recv(4096)))
        except (TimeoutError, ConnectionResetError):
            answered.append("none in 40 s")
        s.close()
    return [
        f"{n} stalled uploads: honest classify statuses {[c for c, _ in honest]}",
        f"the stalled ones answered {sorted(set(answered))} within "
        f"{time.monotonic() - started:.1f} s",
    ]


def _raise_own_files(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def idle_connections(
    t: Target, silent: int = 2000, slow: int = 1000, hold_s: float = 20
) -> list[str]:
    _raise_own_files(silent + slow + 256)
    quiet = [t.connect() for _ in range(silent)]
    loris = []
    for _ in range(slow):
        s = t.connect()
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        s.setblocking(False)
        loris.append(s)
    _, new_s = t.classify_s()
    started = time.monotonic()
    while time.monotonic() - started < hold_s:
        for s in loris:
            with contextlib.suppress(OSError):  # closed by the server: fine
                s.send(b"X")
        time.sleep(1.0)
    closed = 0
    for s in [*quiet, *loris]:
        s.setblocking(False)
        try:
            s.recv(4096, socket.MSG_PEEK)  # EOF, or an answer before the close
            closed += 1
        except BlockingIOError:
            pass  # still open, nothing said
        except OSError:
            closed += 1  # reset
        s.close()
    return [
        f"{silent} silent + {slow} slowloris connections: {closed} closed by the server within "
        f"{hold_s:.0f} s; a new classify meanwhile took {new_s:.2f} s"
    ]


def heads(t: Target) -> list[str]:
    before = t.rss_mib()
    big = []
    for _ in range(20):
        s = t.connect()
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(50):
                s.sendall(b"a" * 1_000_000)
        except OSError:
            pass
        big.append(s)
    during = t.rss_mib()
    for s in big:
        s.close()
    rows = [f"20 unfinished 50 MB header values: RSS {before} → {during} MiB"]
    for label, request in (
        ("a 16 MB header", b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 16_000_000),
        (
            "10,000 headers",
            b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % i for i in range(10_000)),
        ),
        ("HTTP/2.0", b"GET /v2/health/live HTTP/2.0\r\nHost: x\r\n"),
        ("HTTP/1.1 without Host", b"GET /v2/health/live HTTP/1.1\r\n"),
    ):
        s = t.connect()
        try:
            s.sendall(request + b"\r\n\r\n")
            rows.append(f"{label}: {_status(s.recv(4096))}")
        except OSError as e:
            rows.append(f"{label}: {type(e).__name__}")
        s.close()
    return rows


def non_strings(t: Target) -> list[str]:
    raw = json.dumps({"texts": [0] * 330_000}).encode()
    result: dict[str, Any] = {}

    def send() -> None:
        started = time.monotonic()
        r = httpx.post(
            f"{t.url}/v1/classify",
            content=raw,
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        result.update(code=r.status_code, size=len(r.content), s=time.monotonic() - started)

    with cf.ThreadPoolExecutor(1) as pool:
        f = pool.submit(send)
        probes = _probe_while(t, lambda: not f.done())
        f.result()
    return [
        f"{len(raw):,} bytes of 330,000 non-strings: {result['code']} in {result['s']:.2f} s, "
        f"{result['size']:,}-byte answer; liveness max {max(probes) * 1000:.0f} ms"
    ]


def attention_answers(t: Target, n: int = 64) -> list[str]:
    body = {"model": "sentiment", "text": LONG, "truncate": True}
    with cf.ThreadPoolExecutor(n) as pool:
        many = [
            pool.submit(httpx.post, f"{t.url}/v1/attention", json=body, timeout=120)
            for _ in range(n)
        ]
        probes = _probe_while(t, lambda: not all(f.done() for f in many))
        codes = [f.result().status_code for f in many]
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    return [
        f"{n} attention JSON answers of the longest text at once: {counts}; liveness max "
        f"{max(probes) * 1000:.0f} ms, p50 {statistics.median(probes) * 1000:.0f} ms"
    ]


V2_INFER = "/v2/models/sentiment/infer"
# the bodies that once answered 500: label → (path, body, words the 400 that refuses it
# holds); tests/service/test_hostile.py replays the same
FIVE_HUNDREDS: dict[str, tuple[str, bytes, str]] = {
    "V2 id of 5,000 digits": (V2_INFER, b'{"id": ' + b"7" * 5000 + b"}", "digits"),
    "V2 data integer of 5,000 digits": (
        V2_INFER,
        b'{"inputs": [{"name": "text", "shape": [1], "datatype": "INT64", "data": ['
        + b"9" * 5000
        + b"]}]}",
        "digits",
    ),
    "timeout of 10^400 µs": (
        V2_INFER,
        b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}], '
        b'"parameters": {"timeout": 1' + b"0" * 400 + b"}}",
        "digits",
    ),
    "shape product of thousands of digits": (
        V2_INFER,
        json.dumps(
            {
                "inputs": [
                    {"name": "text", "shape": [10**18] * 1000, "datatype": "BYTES", "data": []}
                ]
            }
        ).encode(),
        "dimensions",
    ),
    "index nested 100,000 deep": (
        "/v2/repository/index",
        b"[" * 100_000 + b"]" * 100_000,
        "too deeply",
    ),
    "index integer of 5,000 digits": (
        "/v2/repository/index",
        b'{"ready": ' + b"1" * 5000 + b"}",
        "digits",
    ),
}
BINARY = (("FP32", 3), ("FP64", 7))  # binary data that is not whole elements


def binary_body(datatype: str, size: int) -> tuple[bytes, dict[str, str]]:
    """A V2 body with ``size`` bytes of binary ``datatype`` data, and its headers."""
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "shape": [1],
                    "datatype": datatype,
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(head)),
    }
    return head + b"\0" * size, headers


def five_hundreds(t: Target) -> list[str]:
    rows = []
    for label, (path, raw, _) in FIVE_HUNDREDS.items():
        r = httpx.post(
            f"{t.url}{path}", content=raw, headers={"Content-Type": "application/json"}, timeout=60
        )
        rows.append(f"{label}: {r.status_code}")
    for datatype, size in BINARY:
        raw, headers = binary_body(datatype, size)
        r = httpx.post(f"{t.url}{V2_INFER}", content=raw, headers=headers, timeout=60)
        rows.append(f"binary {datatype} of {size} bytes: {r.status_code}")
    return rows


async def _flood_client(t: Target, stop: float, counts: dict[int, int], waits: list[float]) -> None:
    request = (
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(CLASSIFY)}\r\n\r\n".encode()
        + CLASSIFY
    )
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(t.host, t.port)
            while time.monotonic() < stop:
                sent = time.monotonic()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                if status == 429 and len(waits) < 200_000:
                    waits.append(time.monotonic() - sent)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                counts[status] = counts.get(status, 0) + 1
                if b"connection: close" in head.lower():
                    break
            writer.close()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts[0] = counts.get(0, 0) + 1
            await asyncio.sleep(0.01)


def _flood(url: str, clients: int, seconds: float, out: Any) -> None:
    t = Target(url, None)
    _raise_own_files(clients + 256)
    counts: dict[int, int] = {}
    waits: list[float] = []

    async def main() -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(_flood_client(t, stop, counts, waits) for _ in range(clients)))

    asyncio.run(main())
    waits.sort()
    at = [waits[min(len(waits) - 1, int(q * len(waits)))] if waits else 0.0 for q in (0.5, 0.99)]
    out.put((counts, at))


def flood(t: Target, clients: int = 500, seconds: float = 30) -> list[str]:
    """The flood runs in a process of its own: probing from the flooding process would time
    its own GIL, not the server."""
    out: mp.Queue[tuple[dict[int, int], list[float]]] = mp.Queue()
    flooder = mp.Process(target=_flood, args=(t.url, clients, seconds, out))
    before = t.rss_mib()
    flooder.start()
    time.sleep(1.0)
    probes = _probe_while(t, flooder.is_alive)
    counts, (p50, p99_429) = out.get(timeout=30)
    flooder.join(10)
    _, after_s = t.classify_s()
    probes.sort()
    p99 = probes[min(len(probes) - 1, int(0.99 * len(probes)))]
    return [
        f"{clients} clients for {seconds:.0f} s: {counts} (0 = connection errors); liveness "
        f"p50 {statistics.median(probes) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {probes[-1] * 1000:.0f} ms over {len(probes)} probes",
        f"429s answered in p50 {p50 * 1000:.0f} ms, p99 {p99_429 * 1000:.0f} ms (as the "
        f"flooders saw them); RSS {before} → {t.rss_mib()} MiB; a classify after: "
        f"{after_s * 1000:.0f} ms",
    ]


CASES: dict[str, Callable[[Target], list[str]]] = {
    "heatmaps": heatmaps,
    "stalled_uploads": stalled_uploads,
    "idle_connections": idle_connections,
    "heads": heads,
    "non_strings": non_strings,
    "attention_answers": attention_answers,
    "five_hundreds": five_hundreds,
    "flood": flood,
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--pid", type=int, default=None, help="the server's pid, for its RSS")
    p.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    p.add_argument("--start", action="store_true", help="start a server on the default models")
    args = p.parse_args(argv)
    server = None
    if args.start:
        from benchmarks.processes import ROOT, start_service

        logs = Path(tempfile.mkdtemp(prefix="hostile-"))
        server = start_service("hostile", ROOT / "model_repository", logs)
        args.url, args.pid = server.url, server.process.pid
        print(f"server log: {server.log}\n")
    t = Target(args.url, args.pid)
    try:
        _run(t, args.cases)
    finally:
        if server is not None:
            server.stop()


def _run(t: Target, cases: list[str]) -> None:
    for name in cases:
        started = time.monotonic()
        try:
            rows = CASES[name](t)
        except Exception as e:  # one case's failure must not hide the others' figures
            rows = [f"the case failed: {type(e).__name__}: {e}"]
        alive = t.live_s()
        print(
            f"## {name} ({time.monotonic() - started:.0f} s; liveness after: {alive * 1000:.0f} ms)"
        )
        for row in rows:
            print(f"- {row}")
        print(flush=True)


if __name__ == "__main__":
    main()
