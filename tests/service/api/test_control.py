"""Model control while serving, end to end: a real server, a real repository on disk,
``tritonclient`` for the repository extension, and a constant load that must see no
failed request through reloads, a refused broken version and an unload/load cycle."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.service.conftest import REPOSITORY
from tests.support.server import Server, start, stop
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow


def _place(repo: Path, version: int, broken: bool = False) -> None:
    """A new version appears whole: copied beside, then renamed into place."""
    staging = repo / "sentiment" / f".staging-{version}"
    shutil.copytree(REPOSITORY / "sentiment" / "1", staging)
    if broken:
        graph = staging / "classifier.onnx"
        data = bytearray(graph.read_bytes())
        data[len(data) // 2] ^= 0xFF
        graph.write_bytes(bytes(data))
    os.rename(staging, repo / "sentiment" / str(version))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repository"
    (root / "sentiment").mkdir(parents=True)
    shutil.copytree(REPOSITORY / "sentiment" / "1", root / "sentiment" / "1")
    return root


@dataclass
class Load:
    """Clients sending /v1/classify back to back; every answer kept with its times."""

    url: str
    clients: int = 4
    answers: list[tuple[float, float, int, int | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                sent = time.monotonic()
                r = c.post("/v1/classify", json={"texts": ["A fine, moving film."]})
                version = r.json().get("version") if r.status_code == 200 else None
                self.answers.append((sent, time.monotonic(), r.status_code, version))

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def wait(self, n: int) -> None:
        target = len(self.answers) + n
        wait_until(lambda: len(self.answers) >= target, 30, "the load stalled")


@pytest.fixture
def server(repo: Path, tmp_path: Path) -> Iterator[Server]:
    s = start(tmp_path, ATTNSERVE_MODEL_REPOSITORY=str(repo), ATTNSERVE_MODEL_CONTROL="true")
    yield s
    stop(s)


def test_reload_and_unload_under_constant_load_fail_no_request(server: Server, repo: Path) -> None:
    client = triton.InferenceServerClient(server.host_port)
    assert client.get_model_repository_index() == [
        {"name": "sentiment", "version": "1", "state": "READY", "reason": ""}
    ]
    with Load(server.url) as load:
        load.wait(50)
        # a new version: loaded, verified, warmed up, swapped in
        _place(repo, 2)
        client.load_model("sentiment")
        reloaded = time.monotonic()
        load.wait(50)
        assert load.answers[-1][3] == 2
        # a broken version: refused with the reason; version 2 keeps serving
        _place(repo, 3, broken=True)
        with pytest.raises(
            InferenceServerException,
            match=r"version 3 refused: .*classifier\.onnx.*version 2 keeps serving",
        ):
            client.load_model("sentiment")
        load.wait(50)
        assert client.is_model_ready("sentiment")
        # unload, then load again: 503 only while it is deliberately out
        shutil.rmtree(repo / "sentiment" / "3")
        unload_sent = time.monotonic()
        client.unload_model("sentiment")
        assert not client.is_model_ready("sentiment")
        index = client.get_model_repository_index()
        assert index[0]["state"] == "UNAVAILABLE" and "unloaded" in index[0]["reason"]
        load.wait(20)
        client.load_model("sentiment")
        load_done = time.monotonic()
        load.wait(50)
    answers = load.answers
    failed = [
        a
        for a in answers
        if a[2] != 200 and not (a[2] == 503 and unload_sent <= a[1] and a[0] <= load_done)
    ]
    out = [a for a in answers if a[2] == 503]
    print(
        f"\n{len(answers)} requests through reload, refused version, unload/load: "
        f"{len(failed)} failed, {len(out)} answered 503 while unloaded, "
        f"{sum(a[3] == 1 for a in answers)} on v1, {sum(a[3] == 2 for a in answers)} on v2"
    )
    assert not failed, failed[:5]
    assert out, "no request saw the model unloaded: the cycle was not exercised"
    # every request sent after the swap got version 2; the old one only finished its own
    assert all(a[3] == 2 for a in answers if a[0] > reloaded and a[2] == 200)
    assert any(a[3] == 1 for a in answers)


def test_a_new_version_is_picked_up_by_polling(repo: Path, tmp_path: Path) -> None:
    s = start(tmp_path, ATTNSERVE_MODEL_REPOSITORY=str(repo), ATTNSERVE_REPOSITORY_POLL_S="0.2")
    try:
        with Load(s.url, clients=2) as load:
            load.wait(20)
            _place(repo, 2)
            wait_until(lambda: load.answers[-1][3] == 2, 30, "version 2 never served")
            _place(repo, 3, broken=True)  # refused once, not retried; 2 keeps serving
            wait_until(lambda: "version 3 refused" in s.log.read_text(), 30, "v3 never tried")
            time.sleep(1.0)  # five more polls
            load.wait(50)
        assert all(a[2] == 200 for a in load.answers), [a for a in load.answers if a[2] != 200][:5]
        assert load.answers[-1][3] == 2
        log = s.log.read_text()
        assert log.count("version 3 refused") == 1, log
    finally:
        stop(s)


def test_control_is_refused_unless_turned_on_and_names_stay_in_the_repository(
    repo: Path, tmp_path: Path
) -> None:
    s = start(tmp_path, ATTNSERVE_MODEL_REPOSITORY=str(repo))
    try:
        r = httpx.post(f"{s.url}/v2/repository/models/sentiment/unload")
        assert r.status_code == 403 and "ATTNSERVE_MODEL_CONTROL=true" in r.json()["error"]
        assert httpx.post(f"{s.url}/v2/repository/index").status_code == 200
    finally:
        stop(s)
    s = start(tmp_path, ATTNSERVE_MODEL_REPOSITORY=str(repo), ATTNSERVE_MODEL_CONTROL="true")
    try:
        for name, status in [
            ("..", 404),  # the client resolves it away: /v2/repository/load
            ("a b", 400),
            (".staging-2", 400),
            ("..%2F..%2Fetc", 404),
            ("nope", 404),
        ]:
            r = httpx.post(f"{s.url}/v2/repository/models/{name}/load")
            assert r.status_code == status, (name, r.text)
        r = httpx.post(f"{s.url}/v2/repository/models/sentiment/load", json={"bogus": 1})
        assert r.status_code == 400 and "unknown field" in r.json()["error"]
        r = httpx.post(f"{s.url}/v2/repository/index", json={"ready": True})
        assert [m["name"] for m in r.json()] == ["sentiment"]
    finally:
        stop(s)


def test_a_pinned_version_stays_pinned_through_polling_and_loads(
    repo: Path, tmp_path: Path
) -> None:
    _place(repo, 2)
    s = start(
        tmp_path,
        ATTNSERVE_MODEL_REPOSITORY=str(repo),
        ATTNSERVE_VERSIONS="sentiment:1",
        ATTNSERVE_REPOSITORY_POLL_S="0.1",
        ATTNSERVE_MODEL_CONTROL="true",
    )
    try:
        _place(repo, 3)
        # proof that the poller runs: a model placed now, unpinned, gets served by it
        staging = repo / ".staging-en-fr"
        (staging / "1").mkdir(parents=True)
        for src in (REPOSITORY / "en-fr" / "1").iterdir():
            os.symlink(src, staging / "1" / src.name)
        os.rename(staging, repo / "en-fr")

        def states() -> dict[str, tuple[str, int]]:
            models = httpx.get(f"{s.url}/v1/models").json()["models"]
            return {m["name"]: (m["state"], m["version"]) for m in models}

        wait_until(lambda: states().get("en-fr") == ("ready", 1), 30, "the poller never ran")
        assert states()["sentiment"] == ("ready", 1)  # polled too, and still pinned
        r = httpx.post(f"{s.url}/v1/classify", json={"texts": ["Fine."]})
        assert r.json()["version"] == 1
        r = httpx.post(f"{s.url}/v2/repository/models/sentiment/load")
        assert r.status_code == 200 and r.json()["version"] == "1"
        index = httpx.post(f"{s.url}/v2/repository/index").json()
        assert {"name": "sentiment", "version": "1", "state": "READY", "reason": ""} in index
    finally:
        stop(s)
