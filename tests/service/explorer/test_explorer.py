"""The explorer's page and assets as the service serves them (in-process, real models)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.app import create_app
from service.explorer import STATIC
from service.settings import load_settings
from tests.service.conftest import REPOSITORY

ASSETS = sorted(p.name for p in STATIC.iterdir())


def test_the_root_redirects_to_the_page_and_the_page_is_html_with_a_strict_policy(
    client: TestClient,
) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "explorer"
    r = client.get("/?model=en-fr", follow_redirects=False)
    assert r.headers["location"] == "explorer?model=en-fr"
    page = client.get("/explorer")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>attnserve · attention explorer</title>" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.head("/explorer").status_code == 200


def test_every_asset_the_page_names_is_served_with_its_type(client: TestClient) -> None:
    page = client.get("/explorer").text
    named = re.findall(r'(?:src|href)="(explorer/static/[^"]+)"', page)
    assert {n.rsplit("/", 1)[1] for n in named} == {"explorer.css", "explorer.js"}
    types = {"css": "text/css", "js": "text/javascript", "html": "text/html"}
    for name in ASSETS:
        r = client.get(f"/explorer/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].startswith(types[name.rsplit(".", 1)[1]]), name
    imported = re.findall(r'from "\./([^"]+)"', (STATIC / "explorer.js").read_text())
    assert imported and all(
        client.get(f"/explorer/static/{m}").status_code == 200 for m in imported
    )
    assert client.get("/explorer/static/../settings.py").status_code == 404


def test_nothing_is_fetched_from_another_origin() -> None:
    for name in ASSETS:
        text = (STATIC / name).read_text()
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        assert "@import" not in text and 'fetch("/' not in text, name


def test_every_element_the_script_looks_up_is_on_the_page() -> None:
    page = (STATIC / "index.html").read_text()
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    used = set(re.findall(r'\$\("([^"]+)"\)', (STATIC / "explorer.js").read_text()))
    assert used and used <= ids, used - ids
    for target in re.findall(r'(?:for|aria-describedby|aria-labelledby)="([^"]+)"', page):
        assert set(target.split()) <= ids, target


def test_the_page_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/explorer")]


def test_it_can_be_turned_off() -> None:
    settings = load_settings({"model_repository": REPOSITORY, "explorer": False}, environ={})
    with TestClient(create_app(settings)) as c:
        assert c.get("/explorer").status_code == 404
        assert c.get("/", follow_redirects=False).status_code == 404
        assert c.get("/explorer/static/explorer.js").status_code == 404


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_text_colours_have_a_contrast_of_at_least_4_5() -> None:
    """WCAG AA for body text: every text colour of the stylesheet on the backgrounds it is
    used on."""
    css = (STATIC / "explorer.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    white = "#ffffff"
    pairs = [
        (var["ink"], var["paper"]),
        (var["ink"], var["panel"]),
        (var["muted"], var["paper"]),
        (var["muted"], var["panel"]),
        (var["accent"], var["paper"]),  # links
        (white, var["accent"]),  # buttons
        (white, "#6b6b6b"),  # disabled buttons
        (var["error"], var["error-bg"]),
        (white, var["ink"]),  # the hover tip
    ]
    for fg, bg in pairs:
        hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, (fg, bg)
    assert "#6b6b6b" in css
