"""The hot inference routes on the real app (committed models, in-process): they answer
without FastAPI's stack, and hand FastAPI what they do not take, whose answers do not
change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.middleware import ServiceMiddleware
from service.app import ServiceApp, create_app
from service.settings import load_settings
from tests.service.conftest import REPOSITORY, wait_ready

KEY = "hot-path-key-0123456789"


def _app(**overrides: object) -> ServiceApp:
    return create_app(load_settings({"model_repository": REPOSITORY, **overrides}, environ={}))


class Counting:
    """Counts the requests that reach FastAPI's own stack."""

    def __init__(self, app: ServiceApp) -> None:
        self.paths: list[str] = []
        self.stack = app.stack

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await self.stack(scope, receive, send)


def _counted(app: ServiceApp) -> Counting:
    counting = Counting(app)
    front: Any = app.front
    middleware = front if isinstance(front, ServiceMiddleware) else front.app  # under CORS
    middleware.app = counting  # what ServiceMiddleware hands what the hot routes do not take
    return counting


@pytest.fixture(scope="module")
def hot() -> Iterator[tuple[TestClient, Counting]]:
    app = _app()
    counting = _counted(app)
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c, counting


def test_the_inference_routes_answer_without_fastapi(hot: tuple[TestClient, Counting]) -> None:
    c, counting = hot
    counting.paths.clear()
    r = c.post("/v1/classify", json={"texts": ["A moving film.", "Dull."]})
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert "x-request-id" in r.headers and "server-timing" in r.headers
    r = c.post("/v1/translate", json={"texts": ["Save changes"], "beam_size": 1})
    assert r.status_code == 200 and r.json()["results"][0]["translation"]
    v2 = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["Good."]}]}
    r = c.post("/v2/models/sentiment/infer", json=v2)
    assert r.status_code == 200 and r.json()["model_name"] == "sentiment"
    r = c.post("/v2/models/sentiment/versions/3/infer", json=v2)
    assert r.status_code == 200
    # refusals after validation are answered here too, in the route's words
    r = c.post("/v1/classify", json={"texts": ["x"], "model": "nope"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "model_not_found"
    r = c.post("/v1/translate", json={"texts": ["x"], "beam_size": 99})
    assert r.status_code == 422
    assert counting.paths == []


def test_what_the_hot_path_does_not_take_fastapi_answers_as_before(
    hot: tuple[TestClient, Counting],
) -> None:
    c, counting = hot
    counting.paths.clear()
    r = c.post("/v1/classify", json={"texts": [1]})  # fails validation: FastAPI words it
    assert (
        r.status_code == 422
        and r.json()["error"]["message"] == "texts[0]: Input should be a valid string"
    )
    r = c.post("/v1/classify", content=b"texts=a", headers={"content-type": "text/plain"})
    assert r.status_code == 422
    r = c.post("/v1/classify", content=b"")
    assert r.status_code == 422 and "required" in r.json()["error"]["message"]
    assert counting.paths == ["/v1/classify"] * 3
    # JSON that breaks the body rules is the hot path's own 400 / 422, as StrictRequest's
    r = c.post("/v1/classify", content=b'{"texts": ["a"], "texts": ["b"]}')
    assert r.status_code == 400 and "appears twice" in r.json()["error"]["message"]
    r = c.post("/v1/classify", content=b'{"texts": [')
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]
    assert counting.paths == ["/v1/classify"] * 3


def test_with_keys_a_request_without_one_goes_to_fastapi_s_401() -> None:
    app = _app(api_keys=(KEY,))
    counting = _counted(app)
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        counting.paths.clear()
        r = c.post("/v1/classify", json={"texts": ["Fine."]})
        assert r.status_code == 401 and counting.paths == ["/v1/classify"]
        auth = {"Authorization": f"Bearer {KEY}"}
        r = c.post("/v1/classify", json={"texts": ["Fine."]}, headers=auth)
        assert r.status_code == 200 and counting.paths == ["/v1/classify"]


def test_with_cors_a_cross_origin_request_goes_through_fastapi_with_its_headers() -> None:
    origin = "https://app.example.com"
    app = _app(cors_origins=(origin,))
    counting = _counted(app)
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        counting.paths.clear()
        r = c.post("/v1/classify", json={"texts": ["Fine."]}, headers={"Origin": origin})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        r = c.post("/v1/classify", json={"texts": ["Fine."]})
        assert r.status_code == 200 and counting.paths == ["/v1/classify"]
