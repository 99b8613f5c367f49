"""/v2 (Open Inference Protocol) in-process, in plain JSON as the KServe spec writes it.
tritonclient's binary path is tested against a real server in tests/service/test_server.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def _infer(client: TestClient, model: str, texts: list[str], **extra: object) -> object:
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]}
    return client.post(f"/v2/models/{model}/infer", json={**body, **extra})


def test_server_metadata_and_health(client: TestClient) -> None:
    meta = client.get("/v2").json()
    assert meta["name"] == "attnserve" and "classification" in meta["extensions"]
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200


def test_model_metadata_and_readiness(client: TestClient) -> None:
    meta = client.get("/v2/models/sentiment").json()
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert {o["name"]: o["shape"] for o in meta["outputs"]} == {
        "label": [-1],
        "probabilities": [-1, 2],
    }
    assert client.get("/v2/models/en-fr/versions/5").json()["versions"] == ["1", "5"]
    assert client.get("/v2/models/en-fr/ready").status_code == 200
    assert client.get("/v2/models/en-fr/versions/5/ready").status_code == 200
    assert client.get("/v2/models/en-fr/versions/1/ready").status_code == 404  # not served
    assert client.get("/v2/models/en-fr/versions/4/ready").status_code == 404  # retired
    assert client.get("/v2/models/en-fr/versions/6/ready").status_code == 404
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_classification_in_json(client: TestClient) -> None:
    r = _infer(client, "sentiment", ["A moving film.", "Dull."], id="req-7")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert (
        body["model_name"] == "sentiment" and body["model_version"] == "3" and body["id"] == "req-7"
    )
    out = {o["name"]: o for o in body["outputs"]}
    assert out["label"]["shape"] == [2] and out["label"]["data"] == ["positive", "negative"]
    assert out["probabilities"]["datatype"] == "FP32" and out["probabilities"]["shape"] == [2, 2]
    assert sum(out["probabilities"]["data"][:2]) == pytest.approx(1, abs=1e-5)


def test_the_classification_extension(client: TestClient) -> None:
    r = _infer(
        client,
        "sentiment",
        ["A moving film."],
        outputs=[{"name": "probabilities", "parameters": {"classification": 1}}],
    )
    (out,) = r.json()["outputs"]  # type: ignore[attr-defined]
    assert out["datatype"] == "BYTES" and out["shape"] == [1, 1]
    score, index, label = out["data"][0].split(":")
    assert (index, label) == ("1", "positive") and 0.5 < float(score) <= 1


def test_translation_with_decoding_parameters(client: TestClient) -> None:
    r = _infer(client, "en-fr", ["Save changes"], parameters={"beam_size": 1, "max_length": 20})
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    (out,) = r.json()["outputs"]  # type: ignore[attr-defined]
    assert out["name"] == "translation" and out["shape"] == [1] and out["data"][0]


@pytest.mark.parametrize(
    ("model", "body", "status", "fragment"),
    [
        ("nope", {"inputs": []}, 404, "unknown model"),
        ("sentiment", {"inputs": []}, 400, "non-empty list"),
        (
            "sentiment",
            {"inputs": [{"name": "txt", "datatype": "BYTES", "shape": [1], "data": ["a"]}]},
            400,
            "'text'",
        ),
        (
            "sentiment",
            {"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
            400,
            "BYTES",
        ),
        (
            "sentiment",
            {
                "inputs": [
                    {"name": "text", "datatype": "BYTES", "shape": [1, 2], "data": ["a", "b"]}
                ]
            },
            400,
            "[N, 1]",
        ),
        (
            "sentiment",
            {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [" "]}]},
            400,
            "whitespace",
        ),
        (
            "sentiment",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "parameters": {"priority": 1},
            },
            400,
            "unknown parameters",
        ),
        (
            "sentiment",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "parameters": {"timeout": "soon"},
            },
            400,
            "microseconds",
        ),
        (
            "sentiment",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "outputs": [{"name": "logits"}],
            },
            400,
            "unknown output",
        ),
        (
            "sentiment",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "outputs": [{"name": "probabilities", "parameters": {"classification": 5}}],
            },
            400,
            "1 to 2",
        ),
        (
            "en-fr",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "parameters": {"beam_size": 99},
            },
            400,
            "beam_size",
        ),
        (
            "en-fr",
            {
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}],
                "parameters": {"beam_size": True},
            },
            400,
            "beam_size",
        ),
    ],
)
def test_v2_errors_are_error_strings(
    client: TestClient, model: str, body: object, status: int, fragment: str
) -> None:
    r = client.post(f"/v2/models/{model}/infer", json=body)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["error"], str) and fragment in r.json()["error"]


def test_a_version_that_is_not_served_is_404(client: TestClient) -> None:
    r = client.post("/v2/models/sentiment/versions/4/infer", json={"inputs": []})
    assert r.status_code == 404 and "serves version 3" in r.json()["error"]
