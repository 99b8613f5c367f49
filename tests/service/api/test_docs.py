"""The API docs page works with no internet: its script and styles come from the service.

In-process: the page names no other origin and every asset it loads is served. In a real
headless Chromium against a real `attnserve serve`, with every request to another origin
aborted (the network is off): Swagger UI draws one block per operation of the OpenAPI
document. The screenshot goes to reports/docs/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.browser import guard
from tests.support.server import Server, start, stop

ARTIFACTS = Path(__file__).resolve().parents[3] / "reports" / "docs"


def _operations(document: dict[str, Any]) -> int:
    verbs = {"get", "post", "put", "delete", "patch", "head", "options"}
    return sum(len(verbs & set(item)) for item in document["paths"].values())


def test_the_page_names_no_other_origin_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    assert "fonts.googleapis" not in page.text
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
    kinds = {client.get(u).headers["content-type"].split(";")[0] for u in urls}
    assert {"text/javascript", "text/css"} <= kinds, kinds
    assert client.get("/docs/static/redoc.standalone.js").status_code == 404


def test_fastapi_s_cdn_pages_are_not_installed(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "cdn.jsdelivr.net" not in html and "fastapi.tiangolo.com" not in html
    assert client.get("/redoc").status_code == 404


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("docs"))
    yield s
    stop(s)


@pytest.mark.slow
def test_swagger_ui_renders_every_operation_offline(browser: Any, server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = guard(page, server.url, offline=True)
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() == _operations(document)
    assert page.locator(".info .title").inner_text().startswith("attnserve")
    # an operation opens and shows its example body
    page.locator("#operations-v1-classify_v1_classify_post").click()
    page.wait_for_selector(".opblock.is-open .body-param__example, .opblock.is-open pre")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-offline.png"))
    context.close()
    assert not problems, problems
