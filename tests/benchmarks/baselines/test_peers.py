"""The peers do the same work as the service: the same answers on the same texts — the
plain endpoint in-process, LitServe as the real process the benchmark starts."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from benchmarks import processes
from benchmarks.baselines.plain import create_app
from service.app import create_app as create_service
from service.settings import load_settings
from tests.service.conftest import wait_ready
from tests.support.server import REPOSITORY

TEXTS = ["A moving, beautifully acted film.", "Dull, and far too long.", "Not bad at all."]


def _service_answers() -> list[dict[str, object]]:
    settings = load_settings({"model_repository": REPOSITORY}, environ={})
    with TestClient(create_service(settings)) as service:
        wait_ready(service)
        results: list[dict[str, object]] = service.post(
            "/v1/classify", json={"texts": TEXTS}
        ).json()["results"]
        return results


def _same(got: list[dict[str, object]], want: list[dict[str, object]]) -> None:
    assert [r["label"] for r in got] == [r["label"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert abs(float(a["score"]) - float(b["score"])) < 1e-4  # type: ignore[arg-type]


def test_the_plain_endpoint_answers_like_the_service() -> None:
    with TestClient(create_app(REPOSITORY)) as plain:
        assert plain.get("/v2/health/ready").status_code == 200
        got = plain.post("/v1/classify", json={"texts": TEXTS}).json()["results"]
    _same(got, _service_answers())


def test_litserve_answers_like_the_service_and_stops_whole(tmp_path: Path) -> None:
    server = processes.start_litserve(REPOSITORY, tmp_path)
    try:
        got = [
            httpx.post(f"{server.url}/v1/classify", json={"texts": [t]}, timeout=30).json()[
                "results"
            ][0]
            for t in TEXTS
        ]
        assert server.cpu_s() > 0
    finally:
        server.stop()
    _same(got, _service_answers())
    deadline = time.monotonic() + 10  # LitServe's workers and API server go with it
    while _alive(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(server.process.pid) == []


def _alive(session: int) -> list[str]:
    """Processes of the session that are still running (zombies wait for their reaper)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            out.append(stat.parent.name)
    return out
