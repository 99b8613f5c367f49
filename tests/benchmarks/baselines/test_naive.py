"""The naive baseline does the same work as the service: same answers on the same texts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from benchmarks.baselines.naive import create_app
from service.app import create_app as create_service
from service.settings import load_settings
from tests.service.conftest import wait_ready
from tests.support.server import REPOSITORY

TEXTS = ["A moving, beautifully acted film.", "Dull, and far too long.", "Not bad at all."]


def test_naive_answers_like_the_service() -> None:
    with TestClient(create_app(REPOSITORY)) as naive:
        assert naive.get("/v2/health/ready").status_code == 200
        got = naive.post("/v1/classify", json={"texts": TEXTS}).json()["results"]
    settings = load_settings({"model_repository": REPOSITORY}, environ={})
    with TestClient(create_service(settings)) as service:
        wait_ready(service)
        want = service.post("/v1/classify", json={"texts": TEXTS}).json()["results"]
    assert [r["label"] for r in got] == [r["label"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert abs(a["score"] - b["score"]) < 1e-4
