"""A model that fails to load is reported (models list, readiness, metrics); the others serve."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.service.conftest import REPOSITORY, wait_ready


def _linked_copy(dst: Path) -> None:
    """The default repository, each file a symlink except those we damage."""
    for src in REPOSITORY.rglob("*"):
        if src.is_file():
            target = dst / src.relative_to(REPOSITORY)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, target)


def test_a_broken_model_is_reported_and_the_others_serve(tmp_path: Path) -> None:
    _linked_copy(tmp_path)
    graph = tmp_path / "sentiment" / "3" / "classifier.onnx"
    data = bytearray(graph.read_bytes())
    graph.unlink()
    data[1000] ^= 0xFF
    graph.write_bytes(bytes(data))
    settings = load_settings({"model_repository": tmp_path}, environ={})
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["en-fr"]["state"] == "ready"
        assert models["sentiment"]["state"] == "failed"
        assert (
            "classifier.onnx" in models["sentiment"]["error"]
            and "altered" in models["sentiment"]["error"]
        )
        r = client.post("/v1/classify", json={"texts": ["fine"]})
        assert r.status_code == 503 and "failed to load" in r.json()["error"]["message"]
        assert client.get("/v2/models/sentiment/ready").status_code == 503
        assert client.get("/v2/models/en-fr/ready").status_code == 200
        assert client.post("/v1/translate", json={"texts": ["Save changes"]}).status_code == 200
        metrics = client.get("/metrics").text
        assert 'attnserve_model_ready{model="sentiment",version="3"} 0.0' in metrics
        assert 'attnserve_model_ready{model="en-fr",version="5"} 1.0' in metrics


def test_an_empty_repository_is_never_ready(tmp_path: Path) -> None:
    settings = load_settings({"model_repository": tmp_path / "missing"}, environ={})
    with TestClient(create_app(settings)) as client:
        for _ in range(100):
            body = client.get("/v1/models").json()
            if body["repository_error"]:
                break
        assert "does not exist" in body["repository_error"]
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        r = client.post("/v1/classify", json={"texts": ["x"]})
        assert r.status_code == 503 and "no classification model" in r.json()["error"]["message"]


def test_a_pinned_version_is_served(tmp_path: Path) -> None:
    """en-fr has versions 1 and 5: the latest serves, unless a pin says otherwise."""
    _linked_copy(tmp_path)
    for pin, served in (({}, 5), ({"en-fr": 1}, 1)):
        settings = load_settings({"model_repository": tmp_path, "versions": pin}, environ={})
        with TestClient(create_app(settings)) as client:
            wait_ready(client)
            models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
            assert models["en-fr"]["version"] == served and models["en-fr"]["versions"] == [1, 5]
            r = client.post("/v1/translate", json={"texts": ["Save changes"], "beam_size": 1})
            assert r.status_code == 200 and r.json()["version"] == served


def test_a_pinned_version_that_is_missing_fails_and_says_so(tmp_path: Path) -> None:
    _linked_copy(tmp_path)
    settings = load_settings({"model_repository": tmp_path, "versions": {"en-fr": 7}}, environ={})
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["en-fr"]["state"] == "failed" and "no version 7" in models["en-fr"]["error"]
        assert models["sentiment"]["state"] == "ready"
