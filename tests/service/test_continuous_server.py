"""Continuous batching of translation in a real ``attnserve serve``, over real sockets, on
the committed en-fr version (its decoder step takes per-row positions): requests that join
a running batch translate exactly as the version does offline, a short request is
answered while a long one is still decoding, and a client that hangs up mid-decode has its
rows leave at the next step. An older version's graph still serves, in static batches."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.processes import scrape, total
from runtime.repository import load
from runtime.translator import TranslatorRuntime
from tests.support.server import REPOSITORY, Server, start, stop

pytestmark = pytest.mark.slow

SOURCES = [
    "Save changes",
    "The file {name} could not be deleted.",
    "Are you sure you want to delete this folder?",
    "Open the file",
    "Connection to the server failed.",
    "You have %d new messages.",
    "<b>Warning</b>: disk is almost full",
    "Print the document",
    "Close all windows",
    "The selected folder does not exist. Do you want to create it?",
    "Show hidden files",
    "Downloading %(count)s files...",
]
# 40 sources: the lane (max_batch_size 48 here) has room for more beside them
LONG = [
    f"The file number {i} could not be saved to the selected folder because the disk is full."
    for i in range(40)
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(
        tmp_path_factory.mktemp("logs"),
        ATTNSERVE_CONTINUOUS_BATCHING="true",
        ATTNSERVE_ENGINE_WORKERS="1",  # one lane: every request shares one running batch
        ATTNSERVE_MAX_BATCH_SIZE="48",
    )
    yield s
    stop(s)


def _translate(server: Server, texts: list[str], beam: int, timeout: float = 120) -> list[str]:
    r = httpx.post(
        f"{server.url}/v1/translate",
        json={"texts": texts, "beam_size": beam, "timeout": timeout},
        timeout=timeout,
    )
    assert r.status_code == 200, r.text
    return [t["translation"] for t in r.json()["results"]]


def _model(server: Server, name: str = "en-fr") -> dict[str, object]:
    models = httpx.get(f"{server.url}/v1/models", timeout=10).json()["models"]
    return next(m for m in models if m["name"] == name)


def test_the_model_serves_with_continuous_batching(server: Server) -> None:
    assert _model(server)["batching"] == "continuous"
    assert _model(server, "sentiment")["batching"] == "static"  # one pass: no steps


def test_an_older_graph_still_serves_in_static_batches(tmp_path: Path) -> None:
    """en-fr/1's decoder step has no per-row positions: pinned, it serves as before, even
    with continuous batching asked for."""
    s = start(tmp_path, ATTNSERVE_VERSIONS="en-fr:1", ATTNSERVE_CONTINUOUS_BATCHING="true")
    try:
        model = _model(s)
        assert (model["version"], model["batching"]) == (1, "static")
        offline = TranslatorRuntime(load(REPOSITORY, "en-fr", 1))
        texts = SOURCES[:4]
        assert _translate(s, texts, 4) == offline.translate(texts, beam_size=4)
    finally:
        stop(s)


def test_requests_joining_a_running_batch_translate_as_offline(server: Server) -> None:
    """36 one-source requests from 12 clients at once, beams 1, 2 and 4 mixed: each joins
    the running batch at whatever step it arrives, beside whatever runs; every translation
    equals the committed version's offline one."""
    jobs = [(text, beam) for beam in (1, 2, 4) for text in SOURCES]
    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(lambda job: _translate(server, [job[0]], job[1])[0], jobs))
    offline = TranslatorRuntime(load(REPOSITORY, "en-fr"))
    want = [offline.translate([text], beam_size=beam)[0] for text, beam in jobs]
    assert got == want
    samples = scrape(server.url)
    # steps ran with several requests in them (the batch-size histogram of the lane)
    assert total(samples, "attnserve_batch_size_sum", model="en-fr") > total(
        samples, "attnserve_batch_size_count", model="en-fr"
    )


def test_a_short_request_is_answered_while_a_long_one_decodes(server: Server) -> None:
    """With static batches the short request would wait for the long batch to end (one
    engine worker); here it joins the running batch and leaves it when it is done."""
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        long = pool.submit(_translate, server, LONG, 8)
        time.sleep(0.15)  # the long one is decoding
        sent = time.monotonic()
        short = _translate(server, ["Save changes"], 1)
        short_s = time.monotonic() - sent
        assert not long.done(), "the long request finished first: make it longer"
        long.result()
        long_s = time.monotonic() - started
    assert short == ["Enregistrer les modifications"]
    assert short_s < 0.5 * long_s, (short_s, long_s)


def test_a_client_that_hangs_up_mid_decode_leaves_at_the_next_step(server: Server) -> None:
    before = total(scrape(server.url), "attnserve_rejections_total", reason="cancelled")
    body = json.dumps({"texts": LONG, "beam_size": 8, "timeout": 120}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(
        (
            f"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    steps = total(scrape(server.url), "attnserve_batch_size_count", model="en-fr")
    started = steps
    until = time.monotonic() + 30
    while steps < started + 3 and time.monotonic() < until:  # a few steps in: decoding
        steps = total(scrape(server.url), "attnserve_batch_size_count", model="en-fr")
    sock.close()
    deadline = time.monotonic() + 10
    cancelled = 0.0
    while time.monotonic() < deadline and cancelled < len(LONG):
        cancelled = total(scrape(server.url), "attnserve_rejections_total", reason="cancelled")
        cancelled -= before
        time.sleep(0.05)
    assert cancelled == len(LONG)  # all its sources left the running batch
    assert _translate(server, ["Open the file"], 2) == ["Ouvrir le fichier"]  # still serving
