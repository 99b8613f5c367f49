"""Faults, end to end on a real server: a client that reads its answer slowly, and SIGKILL
followed by a restart. (A broken model version, an engine error in a batch and a client
that disconnects have their tests in engine/test_registry.py, test_app.py and
api/test_control.py.)"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import start, stop

pytestmark = pytest.mark.slow


def test_a_slow_reader_holds_only_its_own_answer(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        host, port = server.host_port.rsplit(":", 1)
        text = " ".join(["a wonderful, moving and beautifully acted film"] * 30)
        body = json.dumps({"model": "sentiment", "text": text, "truncate": True}).encode()
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader on a thin pipe
        slow.connect((host, int(port)))
        slow.sendall(
            b"POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.5)  # its answer (megabytes of weights) is now stuck in the pipe
        # meanwhile everyone else is served as usual
        with httpx.Client(base_url=server.url, timeout=10) as c:
            latencies = []
            for i in range(30):
                t0 = time.perf_counter()
                r = c.post("/v1/classify", json={"texts": [f"Fine film number {i}."]})
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 200
        # the slow reader gets its whole answer in the end, trickling in
        received = bytearray()
        slow.settimeout(30)
        while chunk := slow.recv(4096):
            received += chunk
            time.sleep(0.0005)
            head, _, rest = bytes(received).partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                None,
            )
            if length is not None and len(rest) >= length:
                break
        slow.close()
        answer = json.loads(rest)
        print(
            f"\nslow reader: {len(rest) / 1e6:.1f} MB answer; 30 other requests meanwhile, "
            f"max {1000 * max(latencies):.0f} ms"
        )
        assert head.startswith(b"HTTP/1.1 200") and len(answer["tokens"]) > 100
        assert max(latencies) < 2.0
    finally:
        stop(server)


def test_sigkill_under_load_then_restart_comes_back_ready_with_nothing_to_repair(
    tmp_path: Path,
) -> None:
    server = start(tmp_path)
    port = int(server.host_port.rsplit(":", 1)[1])

    def client() -> list[int | str]:
        out: list[int | str] = []
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for _ in range(200):
                try:
                    out.append(
                        c.post(
                            "/v1/translate", json={"texts": ["Save changes"], "beam_size": 4}
                        ).status_code
                    )
                except httpx.TransportError as e:
                    out.append(type(e).__name__)
                    break
        return out

    with cf.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client) for _ in range(4)]
        time.sleep(1.0)
        os.kill(server.process.pid, signal.SIGKILL)
        results = [f.result() for f in futures]
    assert server.process.wait(10) == -signal.SIGKILL
    assert all(r and r[-1] != 200 for r in results), "the clients saw the kill"
    # restart at once, on the same port: ready and serving (the service never writes to
    # the repository, so there is nothing a kill could leave half-written)
    t0 = time.perf_counter()
    again = start(tmp_path, port=port)
    try:
        ready_s = time.perf_counter() - t0
        r = httpx.post(f"{again.url}/v1/translate", json={"texts": ["Save changes"]})
        assert r.status_code == 200 and r.json()["results"][0]["translation"]
        models = httpx.get(f"{again.url}/v1/models").json()
        assert all(m["state"] == "ready" for m in models["models"])
        print(
            f"\nSIGKILL under load: {sum(len(x) for x in results)} answers before it; restart ready in {ready_s:.1f} s"
        )
    finally:
        stop(again)
