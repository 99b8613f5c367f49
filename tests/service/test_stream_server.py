"""``POST /v1/translate/stream`` in a real ``attnserve serve`` on the committed en-fr
model, over real sockets: the events a client sees, how they add up to the translation
``/v1/translate`` gives, the refusals before a stream opens, a stream sharing its batch
with an ordinary request, and clients that hang up mid-stream."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow

LONG = "The file {name} could not be saved to the selected folder because the disk is full."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(
        tmp_path_factory.mktemp("stream"),
        ATTNSERVE_ENGINE_WORKERS="1",
        ATTNSERVE_MAX_WAIT_MS="300",  # room for a stream and a request to meet in one batch
        ATTNSERVE_MAX_IN_FLIGHT="4",
    )
    yield s
    stop(s)


def _events(server: Server, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    with httpx.stream("POST", f"{server.url}/v1/translate/stream", json=body, timeout=60) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                assert name is not None
                out.append((name, json.loads(line[len("data: ") :])))
                name = None
    return out


def _translate(server: Server, text: str, **options: Any) -> httpx.Response:
    r = httpx.post(f"{server.url}/v1/translate", json={"texts": [text], **options}, timeout=60)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("beam", [1, 4])
def test_the_events_add_up_to_the_translation(server: Server, beam: int) -> None:
    events = _events(server, {"text": LONG, "beam_size": beam})
    *growth, (last, done) = events
    assert last == "done" and {name for name, _ in growth} <= {"tokens"}
    want = _translate(server, LONG, beam_size=beam).json()["results"][0]
    assert (done["translation"], done["score"]) == (want["translation"], want["score"])
    assert (done["model"], done["version"]) == ("en-fr", 5)
    pieces = [t for _, data in events for t in data["tokens"]]
    assert "".join(pieces) == want["translation"]
    texts = [data["text"] for _, data in growth]
    assert all(want["translation"].startswith(t) for t in texts)
    if beam == 1:  # greedy: one event per token, the last one only with done
        assert all(len(data["tokens"]) == 1 for _, data in growth) and len(growth) > 10
    else:
        assert growth, "this sentence's beams agree on a prefix before the end"


def test_a_text_s_edges_frame_every_event_as_they_frame_the_translation(server: Server) -> None:
    text = "😀 Save\u200b changes 😀 "
    *growth, (_, done) = _events(server, {"text": text, "beam_size": 1})
    want = _translate(server, text, beam_size=1).json()["results"][0]["translation"]
    assert done["translation"] == want and want.startswith("😀 ") and want.endswith(" 😀 ")
    assert growth and all(data["text"].startswith("😀 ") for _, data in growth)
    assert all(want.startswith(data["text"]) for _, data in growth)


def test_attention_rows_come_with_the_new_tokens(server: Server) -> None:
    events = _events(server, {"text": LONG, "beam_size": 1, "attention": True})
    *growth, (_, done) = events
    sources = len(done["source_tokens"])
    rows = [row for _, data in growth for row in data["attention"]]
    assert all(len(data["attention"]) == len(data["tokens"]) for _, data in growth)
    assert len(done["attention"]) == len(done["tokens"]) + 1  # and </s>
    rows += done["attention"]
    assert all(len(r) == sources and abs(sum(r) - 1) < 1e-3 for r in rows)
    want = httpx.post(
        f"{server.url}/v1/translate",
        json={"texts": [LONG], "beam_size": 1, "return_alignment": True},
        timeout=60,
    ).json()["results"][0]["alignment"]["weights"]
    assert len(rows) == len(want)
    assert (
        max(abs(a - b) for r, w in zip(rows, want, strict=True) for a, b in zip(r, w, strict=True))
        < 1e-4
    )


def test_what_cannot_be_served_is_refused_before_the_stream_opens(server: Server) -> None:
    url = f"{server.url}/v1/translate/stream"
    for body, status, fragment in [
        ({"text": "x", "beam_size": 99}, 422, "beam_size must be an integer from 1 to 8"),
        ({"text": "x", "model": "nope"}, 404, "unknown model"),
        ({"text": "x", "model": "sentiment"}, 422, "send it to /v1/classify"),
        ({"text": "word " * 400}, 422, "truncate"),
        ({"texts": ["x"]}, 422, "text"),
    ]:
        r = httpx.post(url, json=body, timeout=30)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/json"
        assert fragment in r.json()["error"]["message"], r.text


def test_a_stream_and_a_request_share_one_batch(server: Server) -> None:
    """Same options, similar lengths: one batch, one decode (batches group by length)."""
    with ThreadPoolExecutor(2) as pool:
        stream = pool.submit(_events, server, {"text": LONG, "beam_size": 4})
        time.sleep(0.1)  # the stream is queued, its batch waits for company
        plain = _translate(server, LONG.replace("saved", "copied"), beam_size=4)
        stream.result()
    assert plain.headers["X-Batch-Size"] == "2"


def test_clients_that_hang_up_mid_stream_give_back_their_places(server: Server) -> None:
    body = json.dumps({"text": LONG, "beam_size": 1, "max_length": 120}).encode()
    head = (
        "POST /v1/translate/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(8):  # twice ATTNSERVE_MAX_IN_FLIGHT: a place kept would refuse the rest
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + body)
            got = b""
            while b"event: tokens" not in got:
                chunk = sock.recv(4096)
                assert chunk, got
                got += chunk
            assert got.startswith(b"HTTP/1.1 200")
    time.sleep(0.3)
    assert (
        _translate(server, "Open the file", beam_size=2).json()["results"][0]["translation"]
        == "Ouvrir le fichier"
    )
    log = Path(server.log).read_text()
    assert "Traceback" not in log and "ERROR" not in log


def test_the_stream_is_documented(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    route = spec["paths"]["/v1/translate/stream"]["post"]
    assert "text/event-stream" in route["responses"]["200"]["content"]
    assert "`done`" in route["responses"]["200"]["description"]
    assert {"429", "422", "404"} <= set(route["responses"])
