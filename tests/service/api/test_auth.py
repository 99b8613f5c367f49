"""API keys, CORS and the metrics switches on the real app (committed models, in-process)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.auth import Keys
from service.app import create_app
from service.settings import SettingsError, load_settings
from tests.service.conftest import REPOSITORY, wait_ready

KEY = "k3y-for-tests-0123456789"
OTHER = "another-key-abcdefghijkl"


def _client(**overrides: object) -> TestClient:
    settings = load_settings({"model_repository": REPOSITORY, **overrides}, environ={})
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    file = tmp_path_factory.mktemp("keys") / "keys.txt"
    file.write_text(f"# rotated monthly\n{OTHER}\n\n")
    with _client(api_keys=(KEY,), api_keys_file=file) as c:
        wait_ready(c)
        yield c


def test_every_endpoint_but_the_probes_and_the_page_needs_a_key(keyed: TestClient) -> None:
    body = {"texts": ["A fine film."]}
    r = keyed.post("/v1/classify", json=body, headers={"X-Request-ID": "refused-1"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["x-request-id"] == "refused-1"  # logged and traceable like any request
    assert keyed.options("/v1/classify").status_code == 401  # no method slips past
    assert "Authorization: Bearer <key>" in r.json()["error"]["message"]
    r = keyed.post(
        "/v1/classify", json=body, headers={"Authorization": "Bearer wrong-key-0000000000"}
    )
    assert r.status_code == 401 and "not valid" in r.json()["error"]["message"]
    for key in (KEY, OTHER):  # from the setting and from the file
        r = keyed.post("/v1/classify", json=body, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
    assert (
        keyed.post(
            "/v1/classify", json=body, headers={"Authorization": f"bearer {KEY}"}
        ).status_code
        == 200
    )
    for path in ("/v1/models", "/v2", "/v2/models/sentiment", "/docs", "/openapi.json"):
        assert keyed.get(path).status_code == 401, path
    r = keyed.post("/v2/repository/index")
    assert r.status_code == 401 and isinstance(r.json()["error"], str)  # V2's error shape
    for path in (
        "/v2/health/live",
        "/v2/health/ready",
        "/explorer",
        "/explorer/static/explorer.js",
    ):
        assert keyed.get(path).status_code == 200, path
    assert keyed.get("/metrics").status_code == 200  # open unless ATTNSERVE_METRICS_AUTH


def test_metrics_behind_the_key_or_off_the_api_port() -> None:
    with _client(api_keys=(KEY,), metrics_auth=True) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    with _client(metrics_port=1) as c:  # the exporter's port is tested end to end
        assert c.get("/metrics").status_code == 404


def test_keys_are_compared_as_digests_against_every_key() -> None:
    seen: list[bytes] = []

    class Counting(bytes):
        pass

    auth = Keys([KEY, OTHER, "third-key-zzzzzzzzzzzz"])
    assert all(len(d) == 32 for d in auth.digests)  # equal lengths: no length leak
    assert auth.digests[0] == hashlib.sha256(KEY.encode()).digest()
    import hmac

    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append(b)
        return real(a, b)

    hmac.compare_digest = spy  # type: ignore[assignment]
    try:
        assert auth.allowed(f"Bearer {KEY}".encode())  # the first key matches...
        assert len(seen) == 3  # ...and every key is still compared
        assert not auth.allowed(b"Basic abc") and not auth.allowed(None)
    finally:
        hmac.compare_digest = real  # type: ignore[assignment]


def test_short_keys_and_missing_files_stop_the_service(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="shorter than 16"):
        load_settings(environ={"ATTNSERVE_API_KEYS": "short"})
    with pytest.raises(SettingsError, match="not a readable file"):
        load_settings(environ={"ATTNSERVE_API_KEYS_FILE": str(tmp_path / "none")})
    s = load_settings(environ={"ATTNSERVE_API_KEYS": f"{KEY}, {OTHER}"})
    assert s.keys() == [KEY, OTHER]
    assert KEY not in repr(s) and KEY not in str(s.model_dump())  # secrets stay secret


def test_cors_is_off_by_default_and_configurable(client: TestClient) -> None:
    headers = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/classify", headers=headers)
    assert "access-control-allow-origin" not in r.headers
    r = client.post(
        "/v1/classify", json={"texts": ["Fine."]}, headers={"Origin": "https://app.example.com"}
    )
    assert "access-control-allow-origin" not in r.headers
    with _client(cors_origins=("https://app.example.com",), api_keys=(KEY,)) as c:
        wait_ready(c)
        r = c.options(
            "/v1/classify",
            headers={**headers, "Access-Control-Request-Headers": "authorization,content-type"},
        )
        assert r.status_code == 200  # the preflight carries no key and still passes
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        r = c.post(
            "/v1/classify",
            json={"texts": ["Fine."]},
            headers={"Origin": "https://app.example.com", "Authorization": f"Bearer {KEY}"},
        )
        assert (
            r.status_code == 200
            and r.headers["access-control-allow-origin"] == "https://app.example.com"
        )
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        r = c.options("/v1/classify", headers={**headers, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"
