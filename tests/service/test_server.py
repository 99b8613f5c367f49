"""End to end: `attnserve serve` as a real uvicorn process on a free port, polled until
ready; tritonclient against every V2 endpoint; concurrent requests really batched;
bad input answered while serving; SIGTERM under load loses nothing."""

from __future__ import annotations

import concurrent.futures as cf
import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from benchmarks.processes import delta, scrape, total
from tests.service.api.test_v1 import BAD
from tests.support.env import EXAMPLES, documented_variables
from tests.support.server import REPOSITORY, Server, start, stop
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("e2e"), ATTNSERVE_MAX_WAIT_MS="5")
    yield s
    stop(s)


def test_classify_translate_and_attention_over_http(server: Server) -> None:
    r = httpx.post(f"{server.url}/v1/classify", json={"texts": ["A moving film.", "Dull."]})
    assert [x["label"] for x in r.json()["results"]] == ["positive", "negative"]
    r = httpx.post(f"{server.url}/v1/translate", json={"texts": ["Save changes"]}, timeout=30)
    assert r.json()["results"][0]["translation"] == "Enregistrer les modifications"
    r = httpx.post(f"{server.url}/v1/attention", json={"model": "en-fr", "text": "Save changes"})
    assert {m["kind"] for m in r.json()["attention"]} >= {"self", "cross"}
    r = httpx.post(
        f"{server.url}/v1/attention?format=png", json={"model": "sentiment", "text": "Fine."}
    )
    assert r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    assert "compute;dur=" in r.headers["server-timing"]


def test_serves_with_every_documented_variable_set(tmp_path: Path) -> None:
    """ATTNSERVE_CACHE (the data download cache) included: no variable the docs name stops
    the service, and a log to a file is JSON lines that end with where to point a browser."""
    keys = tmp_path / "keys"
    keys.write_text("another-api-key-of-32-characters\n")
    env = documented_variables(keys)
    env["ATTNSERVE_MODEL_REPOSITORY"] = str(REPOSITORY)
    server = start(tmp_path, **env)
    try:
        key = {"Authorization": f"Bearer {EXAMPLES['ATTNSERVE_API_KEYS']}"}
        r = httpx.post(f"{server.url}/v1/classify", json={"texts": ["A moving film."]}, headers=key)
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
        assert httpx.get(f"{server.url}/v1/models").status_code == 401
        lines = [json.loads(line) for line in server.log.read_text().splitlines()]
        where = next(x["message"] for x in lines if x["message"].startswith("open http://"))
        assert where == (f"open {server.url}/ (attention explorer), {server.url}/docs (API docs)")
    finally:
        stop(server)


def test_tritonclient_on_every_v2_endpoint(server: Server) -> None:
    client = triton.InferenceServerClient(server.host_port)
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "attnserve"
    for model, version, versions in (
        ("sentiment", "3", ["1", "2", "3"]),
        ("en-fr", "5", ["1", "5"]),
    ):
        assert client.is_model_ready(model) and client.is_model_ready(model, version)
        assert client.get_model_metadata(model)["name"] == model
        assert client.get_model_metadata(model, version)["versions"] == versions
    assert not client.is_model_ready("sentiment", "1")
    assert not client.is_model_ready("en-fr", "1")  # a version on disk, not the one served

    texts = np.array(["A moving, beautifully acted film.", "Dull, and far too long."], dtype=object)
    text = triton.InferInput("text", [2], "BYTES")
    text.set_data_from_numpy(texts)  # binary tensor data, as tritonclient sends by default
    result = client.infer("sentiment", [text], request_id="r1")
    assert result.as_numpy("label").tolist() == [b"positive", b"negative"]
    probs = result.as_numpy("probabilities")
    assert probs.shape == (2, 2) and probs.dtype == np.float32
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert result.get_response()["id"] == "r1"

    top = client.infer(
        "sentiment",
        [text],
        outputs=[triton.InferRequestedOutput("probabilities", class_count=1)],
    ).as_numpy("probabilities")
    assert top.shape == (2, 1) and top[0, 0].decode().endswith(":1:positive")

    json_text = triton.InferInput("text", [1], "BYTES")
    json_text.set_data_from_numpy(np.array(["Save changes"], dtype=object), binary_data=False)
    out = client.infer(
        "en-fr",
        [json_text],
        parameters={"beam_size": 2},
        outputs=[triton.InferRequestedOutput("translation", binary_data=False)],
        timeout=30_000_000,
    )
    assert out.as_numpy("translation").tolist() == ["Enregistrer les modifications"]

    with pytest.raises(InferenceServerException, match="beam_size must be an integer from 1 to 8"):
        client.infer("en-fr", [json_text], parameters={"beam_size": 12})
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.infer("nope", [json_text])


def test_concurrent_clients_are_batched(server: Server) -> None:
    before = scrape(server.url)
    texts = [f"Review number {i}: the plot was {'great' if i % 2 else 'dull'}." for i in range(256)]

    def call(i: int) -> int:
        r = httpx.post(f"{server.url}/v1/classify", json={"texts": [texts[i]]}, timeout=60)
        return r.status_code

    with cf.ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(call, range(len(texts))))
    assert codes == [200] * len(texts)
    after = scrape(server.url)
    texts_run = delta(before, after, "attnserve_batch_size_sum", model="sentiment")
    batches = delta(before, after, "attnserve_batch_size_count", model="sentiment")
    mean = texts_run / batches
    print(
        f"\n32 concurrent clients, {len(texts)} requests: {batches:.0f} batches, mean batch size {mean:.2f}"
    )
    assert texts_run == len(texts)
    assert mean > 1.5, f"requests were not batched (mean batch size {mean:.2f})"


@pytest.mark.parametrize(("path", "body", "status", "fragment"), BAD)
def test_bad_input_over_http_while_serving(
    server: Server, path: str, body: object, status: int, fragment: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(
        f"{server.url}{path}", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == status and fragment in r.json()["error"]["message"], r.text
    assert (
        httpx.post(f"{server.url}/v1/classify", json={"texts": ["still here"]}).status_code == 200
    )


def _in_flight(server: Server) -> float:
    return total(scrape(server.url), "attnserve_requests_in_flight")


def test_sigterm_under_load_drains_and_loses_nothing(tmp_path: Path) -> None:
    # the stalled upload below must outlast the drain, not the door's body timeout
    server = start(tmp_path, ATTNSERVE_GRACE_PERIOD_S="30", ATTNSERVE_BODY_TIMEOUT_S="60")
    try:
        # A request whose body is still arriving: not accepted yet (it holds no in-flight
        # place), so the drain does not wait for it; it hears 503 when the drain ends.
        body = json.dumps({"texts": ["The file could not be saved."]}).encode()
        slow = socket.create_connection(("127.0.0.1", int(server.host_port.split(":")[1])))
        slow.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        texts = [
            f"The file number {i} could not be saved because the disk is full." for i in range(24)
        ]
        # enough work per request (16 sentences, beam 8) that all 24 are in flight at once,
        # sent over connections opened beforehand (a request answered before the last one
        # is sent would never let the count reach 24), with a deadline long enough that
        # admission control refuses none on a slow host
        bodies = [{"texts": [t] * 16, "beam_size": 8, "timeout": 120} for t in texts]
        limits = httpx.Limits(max_connections=len(texts), max_keepalive_connections=len(texts))
        client = httpx.Client(limits=limits, timeout=90)
        with cf.ThreadPoolExecutor(len(texts)) as pool:
            list(pool.map(lambda _: client.get(f"{server.url}/v2/health/live"), texts))
            busy = [pool.submit(client.post, f"{server.url}/v1/translate", json=b) for b in bodies]
            wait_until(  # every request accepted first
                lambda: _in_flight(server) >= len(texts), 60, "every request in flight"
            )
            assert _in_flight(server) == len(texts)  # the upload still arriving holds none
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            time.sleep(0.2)
            assert httpx.get(f"{server.url}/v2/health/ready").status_code == 503
            late = httpx.post(f"{server.url}/v1/classify", json={"texts": ["too late"]})
            assert late.status_code == 503 and "shutting down" in late.json()["error"]["message"]
            codes = [f.result().status_code for f in busy]
        client.close()
        assert codes == [200] * len(texts)
        slow.settimeout(30)
        reply = slow.recv(65536).decode()
        assert reply.startswith("HTTP/1.1 503") and "shutting down" in reply, reply
        assert server.process.wait(30) == 0
        assert time.monotonic() - signalled < 30  # inside the grace period, stalled upload or not
        assert "drained: no request in flight" in server.log.read_text()
    finally:
        slow.close()
        stop(server)
