"""/v1 in-process on the committed models: answers equal the runtime's, maps have the
right shapes, every bad input gets its 4xx with a message that says what to change."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from runtime.classifier import ClassifierRuntime
from runtime.repository import load
from runtime.translator import TranslatorRuntime
from tests.service.conftest import REPOSITORY

REVIEWS = ["A moving, beautifully acted film.", "Dull, and far too long.", "Not bad at all."]
SOURCES = ["Save changes", "The file {name} could not be deleted.", "You have %d new messages."]


def test_classify_answers_what_the_runtime_computes(client: TestClient) -> None:
    r = client.post("/v1/classify", json={"texts": REVIEWS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "sentiment" and body["version"] == 3
    want = ClassifierRuntime(load(REPOSITORY, "sentiment")).predict(REVIEWS)
    for res, p in zip(body["results"], want, strict=True):
        assert list(res["probabilities"]) == ["negative", "positive"]
        assert np.allclose(list(res["probabilities"].values()), p, atol=1e-6)
        assert res["label"] == ["negative", "positive"][int(p.argmax())]
        assert res["score"] == pytest.approx(float(p.max()), abs=1e-6)
    assert [x["label"] for x in body["results"][:2]] == ["positive", "negative"]
    assert "queue;dur=" in r.headers["server-timing"] and "total;dur=" in r.headers["server-timing"]
    assert int(r.headers["x-batch-size"]) >= 1


@pytest.mark.parametrize("beam", [1, 4])
def test_translate_answers_what_the_runtime_computes(client: TestClient, beam: int) -> None:
    r = client.post("/v1/translate", json={"texts": SOURCES, "beam_size": beam})
    assert r.status_code == 200, r.text
    got = [x["translation"] for x in r.json()["results"]]
    want = TranslatorRuntime(load(REPOSITORY, "en-fr")).translate(SOURCES, beam_size=beam)
    assert got == want
    assert "{name}" in got[1] and "%d" in got[2]  # placeholders come back as sent


def test_translate_alignment_is_target_by_source(client: TestClient) -> None:
    r = client.post("/v1/translate", json={"texts": SOURCES[:2], "return_alignment": True})
    assert r.status_code == 200, r.text
    for res in r.json()["results"]:
        a = res["alignment"]
        w = np.array(a["weights"])
        assert a["source_tokens"][-1] == "</s>" and a["target_tokens"][-1] == "</s>"
        assert w.shape == (len(a["target_tokens"]), len(a["source_tokens"]))
        assert np.allclose(w.sum(1), 1, atol=1e-3)


def test_attention_of_the_classifier(client: TestClient) -> None:
    r = client.post("/v1/attention", json={"model": "sentiment", "text": "Not bad at all."})
    assert r.status_code == 200, r.text
    body = r.json()
    n = len(body["tokens"])
    selfs = [m for m in body["attention"] if m["kind"] == "self"]
    (pool,) = [m for m in body["attention"] if m["kind"] == "pooling"]
    cfg = load(REPOSITORY, "sentiment").config["architecture"]
    assert len(selfs) == cfg["n_attn_layers"] * cfg["members"]  # an ensemble: each member's
    for m in selfs:
        w = np.array(m["weights"])
        assert w.shape == (cfg["n_heads"], n, n)
        assert np.allclose(w.sum(-1), 1, atol=1e-3)
    assert len(pool["weights"]) == n and sum(pool["weights"]) == pytest.approx(1, abs=1e-3)
    assert body["label"] in ("negative", "positive")


def test_attention_of_the_translator_with_a_forced_target(client: TestClient) -> None:
    body = {"model": "en-fr", "text": "Save changes", "target": "Enregistrer les modifications"}
    r = client.post("/v1/attention", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["translation"] == "Enregistrer les modifications"
    s, t = len(out["tokens"]), len(out["target_tokens"])
    kinds = [m["kind"] for m in out["attention"]]
    arch = load(REPOSITORY, "en-fr").config["architecture"]
    assert kinds.count("self") == arch["enc_layers"]
    assert kinds.count("cross") == kinds.count("decoder_self") == arch["dec_layers"]
    shape = {"self": (s, s), "cross": (t, s), "decoder_self": (t, t)}
    for m in out["attention"]:
        w = np.array(m["weights"])
        assert w.shape == (arch["n_heads"], *shape[m["kind"]])
        assert np.allclose(w.sum(-1), 1, atol=1e-3)
        if m["kind"] == "decoder_self":
            assert np.allclose(np.triu(w, 1), 0)  # causal: no step sees what follows


def test_attention_without_target_uses_the_models_translation(client: TestClient) -> None:
    r = client.post("/v1/attention", json={"model": "en-fr", "text": "Save changes"})
    want = client.post("/v1/translate", json={"texts": ["Save changes"]}).json()
    assert r.json()["translation"] == want["results"][0]["translation"]


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("sentiment", "?format=png"),
        ("sentiment", "?format=png&kind=pooling"),
        ("en-fr", "?format=png&layer=0&head=1"),
        ("en-fr", "?format=png&kind=self"),
    ],
)
def test_attention_as_a_png_heatmap(client: TestClient, model: str, query: str) -> None:
    r = client.post(f"/v1/attention{query}", json={"model": model, "text": "Open the file"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n") and len(r.content) > 2000


def test_models_lists_state_provider_and_limits(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"sentiment", "en-fr"}
    served = {"sentiment": (3, [1, 2, 3]), "en-fr": (5, [1, 5])}  # the latest version serves
    for name, m in models.items():
        assert m["state"] == "ready" and (m["version"], m["versions"]) == served[name]
        assert m["provider"] == "CPUExecutionProvider" and m["precision"] == "fp32"
        assert m["limits"]["max_texts"] >= 1
    assert models["sentiment"]["labels"] == ["negative", "positive"]
    assert models["en-fr"]["limits"]["max_beam_size"] == 8
    # what each default model is for, as its export wrote it
    assert "movie reviews" in models["sentiment"]["description"]
    assert "user-interface strings" in models["en-fr"]["description"]


def test_truncate_opts_in_to_cutting_long_texts(client: TestClient) -> None:
    long = "word " * 400
    refused = client.post("/v1/classify", json={"texts": [long]})
    assert refused.status_code == 422 and "truncate" in refused.json()["error"]["message"]
    cut = client.post("/v1/classify", json={"texts": [long], "truncate": True})
    assert cut.status_code == 200


def test_a_paragraph_is_translated_whole_in_pieces_the_answer_shows(client: TestClient) -> None:
    paragraph = " ".join(
        ["Connection to the server failed.", "Check your network settings, then try again."] * 8
    )
    body = {"model": "en-fr", "texts": [paragraph, "Save changes"], "beam_size": 1}
    r = client.post("/v1/translate", json=body)
    assert r.status_code == 200, r.text
    whole, short = r.json()["results"]
    assert "segments" not in short or short["segments"] is None
    assert len(whole["segments"]) >= 2
    assert "".join(s["source"] for s in whole["segments"]) == paragraph
    assert whole["translation"] == "".join(s["translation"] for s in whole["segments"])
    cut = client.post("/v1/translate", json={**body, "texts": [paragraph], "truncate": True})
    assert cut.status_code == 200 and cut.json()["results"][0].get("segments") is None
    # the stream answers one source: over the limit it is still a 422 that says what to do
    streamed = client.post("/v1/translate/stream", json={"text": paragraph, "beam_size": 1})
    assert streamed.status_code == 422 and "truncate" in streamed.json()["error"]["message"]


BAD = [
    ("/v1/classify", b"{not json", 422, "not valid JSON"),
    ("/v1/classify", b'{"texts": ["\xff\xfe"]}', 400, "UTF-8"),
    ("/v1/classify", {"texts": "one text"}, 422, "valid list"),
    ("/v1/classify", {"texts": [1, 2]}, 422, "valid string"),
    ("/v1/classify", {}, 422, "texts is required"),
    ("/v1/classify", {"texts": []}, 422, "send at least one text"),
    ("/v1/classify", {"texts": ["   \n"]}, 422, "whitespace"),
    ("/v1/classify", {"texts": [""]}, 422, "empty"),
    ("/v1/classify", {"texts": ["a\u0000b"]}, 422, "U+0000"),
    ("/v1/classify", b'{"texts": ["\\ud800"]}', 422, "surrogate"),
    ("/v1/classify", {"texts": ["x" * 5001]}, 422, "limit is 5000"),
    ("/v1/classify", {"texts": ["x"] * 65}, 422, "at most 64"),
    ("/v1/classify", {"texts": ["ok"], "model": "nope"}, 404, "models served"),
    ("/v1/classify", {"texts": ["ok"], "model": "en-fr"}, 422, "/v1/translate"),
    ("/v1/classify", {"texts": ["ok"], "colour": "red"}, 422, "not a known field"),
    ("/v1/classify", {"texts": ["ok"], "timeout": -1}, 422, "timeout"),
    ("/v1/translate", {"texts": ["ok"], "beam_size": 9}, 422, "1 to 8"),
    ("/v1/translate", {"texts": ["ok"], "beam_size": 0}, 422, "1 to 8"),
    ("/v1/translate", {"texts": ["ok"], "beam_size": "4"}, 422, "valid integer"),
    ("/v1/translate", {"texts": ["ok"], "max_length": 0}, 422, "max_length"),
    ("/v1/translate", {"texts": ["ok"], "length_penalty": 9}, 422, "length_penalty"),
    ("/v1/translate", {"texts": ["w, " * 1600]}, 422, "tokens long"),  # over the split budget
    ("/v1/attention", {"model": "sentiment", "text": "ok", "target": "x"}, 422, "translation"),
    ("/v1/attention", {"model": "sentiment"}, 422, "text is required"),
    ("/v1/attention?format=gif", {"model": "sentiment", "text": "ok"}, 422, "format"),
    ("/v1/attention?format=png&layer=9", {"model": "sentiment", "text": "ok"}, 422, "layer"),
    ("/v1/attention?format=png&head=9", {"model": "sentiment", "text": "ok"}, 422, "head"),
    ("/v1/attention?format=png&kind=cross", {"model": "sentiment", "text": "ok"}, 422, "cross"),
    ("/v1/nothing", {}, 404, "no route"),
]


@pytest.mark.parametrize(("path", "body", "status", "fragment"), BAD)
def test_bad_input_gets_a_clear_4xx(
    client: TestClient, path: str, body: object, status: int, fragment: str
) -> None:
    if isinstance(body, bytes):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        r = client.post(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"type", "message"}
    assert fragment in error["message"], error
    # ... and the service keeps serving
    assert client.post("/v1/classify", json={"texts": ["fine"]}).status_code == 200


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    big = b'{"texts": ["' + b"a" * 1_100_000 + b'"]}'
    r = client.post("/v1/classify", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "ATTNSERVE_MAX_REQUEST_BYTES" in r.json()["error"]["message"]


def test_metrics_count_requests_batches_and_rejections(client: TestClient) -> None:
    client.post("/v1/classify", json={"texts": REVIEWS})
    client.post("/v1/classify", json={"texts": ["ok"], "model": "nope"})
    text = client.get("/metrics").text
    assert 'attnserve_requests_total{endpoint="classify",model="sentiment",outcome="ok"}' in text
    assert (
        'attnserve_requests_total{endpoint="classify",model="unknown",outcome="client_error"}'
        in text
    )
    assert 'model="nope"' not in text  # user input never becomes a label
    for name in (
        "attnserve_request_duration_seconds_bucket",
        "attnserve_queue_duration_seconds_bucket",
        "attnserve_compute_duration_seconds_bucket",
        "attnserve_batch_size_bucket",
        "attnserve_batch_tokens_bucket",
        "attnserve_batch_padded_tokens_bucket",
        "attnserve_queue_depth",
        "attnserve_generated_tokens_total",
    ):
        assert name in text, name
    assert 'attnserve_model_ready{model="sentiment",version="3"} 1.0' in text
    assert 'provider="CPUExecutionProvider"' in text


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/classify",
        "/v1/translate",
        "/v1/attention",
        "/v1/models",
        "/metrics",
        "/v2/models/{name}/infer",
        "/v2/health/ready",
    ):
        assert p in paths, p
    schemas = spec["components"]["schemas"]
    for name in ("ClassifyRequest", "TranslateRequest", "AttentionRequest"):
        assert schemas[name].get("examples"), name
    assert client.get("/docs").status_code == 200


def test_a_request_whose_pieces_outnumber_the_queue_is_refused_with_what_to_do() -> None:
    from service.app import create_app
    from service.settings import load_settings
    from tests.service.conftest import wait_ready
    from tests.support.server import REPOSITORY

    settings = load_settings(
        {"model_repository": REPOSITORY, "max_queue": 3, "max_texts": 2}, environ={}
    )
    paragraph = " ".join(["Connection to the server failed, check your network settings."] * 40)
    with TestClient(create_app(settings), raise_server_exceptions=False) as small:
        wait_ready(small)
        r = small.post("/v1/translate", json={"texts": [paragraph], "beam_size": 1})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["type"] == "too_many_pieces" and "fewer or shorter texts" in error["message"]
        ok = small.post("/v1/translate", json={"texts": ["Save changes"], "beam_size": 1})
        assert ok.status_code == 200
