"""The explorer in a real headless Chromium (Debian's, driven by Playwright) against a real
`attnserve serve` on the committed default models: what the page draws is checked against
what the API answers. Screenshots go to reports/explorer/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.support.browser import guard
from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[3] / "reports" / "explorer"
SENTENCE = "A moving, beautifully acted film, even if the ending drags."
SOURCE = "The file {name} could not be deleted."
TOP = (253, 231, 37)  # the colour map's largest weight


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("explorer"))
    yield s
    stop(s)


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh page; any script error, console error or request to another origin fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    problems = guard(pg, server.url)
    yield pg
    context.close()
    assert not problems, problems


def _open(page: Any, server: Server, model: str) -> None:
    page.goto(f"{server.url}/?model={model}")
    expect(page.locator("#model-info")).to_contain_text("version")
    assert page.input_value("#model") == model


def _explore(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#run")
    page.wait_for_selector("#query:not([aria-busy])", state="attached")
    assert page.is_hidden("#error"), page.inner_text("#error")


def _shape(page: Any) -> tuple[int, int]:
    return int(page.get_attribute("#heatmap", "data-rows")), int(
        page.get_attribute("#heatmap", "data-cols")
    )


def _cell_centre(page: Any, i: int, j: int) -> dict[str, float]:
    left, top, cell = (
        float(page.get_attribute("#heatmap", f"data-{k}")) for k in ("left", "top", "cell")
    )
    return {"x": left + (j + 0.5) * cell, "y": top + (i + 0.5) * cell}


def _pixel(page: Any, i: int, j: int) -> tuple[int, int, int]:
    at = _cell_centre(page, i, j)
    rgb = page.evaluate(
        """([x, y]) => { const c = document.querySelector('#heatmap');
        const d = window.devicePixelRatio || 1;
        return Array.from(c.getContext('2d').getImageData(x * d, y * d, 1, 1).data.slice(0, 3)); }""",
        [at["x"], at["y"]],
    )
    return tuple(rgb)  # type: ignore[return-value]


def _hover(page: Any, i: int, j: int) -> float:
    page.hover("#heatmap", position=_cell_centre(page, i, j))
    page.wait_for_selector("#tip:not([hidden])")
    assert (
        int(page.get_attribute("#tip", "data-row")),
        int(page.get_attribute("#tip", "data-col")),
    ) == (i, j)
    return float(page.inner_text("#tip").rsplit(": ", 1)[1])


def _get(server: Server, path: str) -> dict[str, Any]:
    r = httpx.get(f"{server.url}{path}", timeout=60)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _api(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{server.url}{path}", json=body, timeout=60)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _check_map(page: Any, grid: np.ndarray) -> None:
    """Rows and columns as the weights have them; the strongest cell painted the top colour;
    hovering a cell reads the weight the API gave for it."""
    assert _shape(page) == grid.shape
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    assert max(abs(a - b) for a, b in zip(_pixel(page, int(i), int(j)), TOP, strict=True)) <= 3
    for i, j in [(0, 0), (grid.shape[0] - 1, grid.shape[1] - 1), (grid.shape[0] // 2, 0)]:
        assert _hover(page, i, j) == pytest.approx(grid[i, j], abs=6e-5)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sentiment(page: Any, server: Server) -> None:
    _open(page, server, "sentiment")
    # the first view says what to do where the results will be, and what the model is for
    assert page.is_hidden("#results") and page.is_visible("#empty")
    assert "press Explore" in page.inner_text("#empty")
    about = next(m for m in _get(server, "/v1/models")["models"] if m["name"] == "sentiment")
    assert about["description"] and page.inner_text("#model-about") == about["description"]
    _explore(page, SENTENCE)
    assert page.is_visible("#results") and page.is_hidden("#empty")
    api = _api(server, "/v1/attention", {"model": "sentiment", "text": SENTENCE})
    probs = _api(server, "/v1/classify", {"model": "sentiment", "texts": [SENTENCE]})
    best = probs["results"][0]
    assert page.inner_text("#label").startswith(best["label"])
    assert f"{100 * best['score']:.1f} %" in page.inner_text("#label")
    tokens = api["tokens"]
    pooling = next(m["weights"] for m in api["attention"] if m["kind"] == "pooling")
    spans = page.locator("#pooled span")
    assert spans.count() == len(tokens)
    strongest = int(np.argmax(pooling))
    assert f"{pooling[strongest]:.4f}" in spans.nth(strongest).get_attribute("title")

    # the default view: the last layer's self-attention, mean of heads
    layers = [np.asarray(m["weights"]) for m in api["attention"] if m["kind"] == "self"]
    _check_map(page, layers[-1].mean(0))
    _shot(page, "sentiment")
    # one head of the first layer, chosen with the selectors
    page.select_option("#layer", "0")
    page.select_option("#head", "1")
    _check_map(page, layers[0][1])
    # the overview holds a thumbnail per layer × (mean + heads); a click selects one
    heads = layers[0].shape[0]
    assert page.locator("#overview .thumb").count() == len(layers) * (heads + 1)
    page.click(f"#overview .thumb[aria-label='show layer {len(layers)}, head {heads}']")
    assert page.input_value("#layer") == str(len(layers) - 1)
    assert page.input_value("#head") == str(heads - 1)
    _check_map(page, layers[-1][heads - 1])
    # keyboard: focus the map, move with the arrows, the live region reads the weight
    page.focus("#heatmap")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert f"{layers[-1][heads - 1][1, 1]:.4f}" in page.inner_text("#readout")
    # the table view: one row per query token, one column per key token
    page.click("#table-view summary")
    expect(page.locator("#weights tbody tr")).to_have_count(len(tokens))
    expect(page.locator("#weights tbody tr").first.locator("td")).to_have_count(len(tokens))
    # pooling: one row
    page.select_option("#kind", "pooling")
    _check_map(page, np.asarray(pooling)[None, :])


def test_downloads_are_the_picture_and_the_weights(page: Any, server: Server) -> None:
    _open(page, server, "sentiment")
    _explore(page, SENTENCE)
    with page.expect_download() as d:
        page.click("#download-png")
    png = Path(d.value.path()).read_bytes()
    assert d.value.suggested_filename == "sentiment-v3-self-layer6-mean.png"
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with page.expect_download() as d:
        page.click("#download-json")
    saved = json.loads(Path(d.value.path()).read_text())
    api = _api(server, "/v1/attention", {"model": "sentiment", "text": SENTENCE})
    last = [m for m in api["attention"] if m["kind"] == "self"][-1]
    assert saved["row_tokens"] == saved["column_tokens"] == api["tokens"]
    assert saved["all_heads"] == last["weights"] and saved["head"] == "mean"
    assert np.allclose(saved["weights"], np.asarray(last["weights"]).mean(0), atol=1e-9)


def test_translation_greedy_and_forced(page: Any, server: Server) -> None:
    _open(page, server, "en-fr")
    page.select_option("#beam", "1")
    _explore(page, SOURCE)
    greedy = _api(server, "/v1/translate", {"model": "en-fr", "texts": [SOURCE], "beam_size": 1})
    translation = greedy["results"][0]["translation"]
    assert page.inner_text("#translation") == translation
    api = _api(server, "/v1/attention", {"model": "en-fr", "text": SOURCE, "target": translation})
    by_kind: dict[str, list[np.ndarray]] = {}
    for m in api["attention"]:
        by_kind.setdefault(m["kind"], []).append(np.asarray(m["weights"]))
    options = page.eval_on_selector_all("#kind option", "os => os.map(o => o.value)")
    assert options == ["cross", "self", "decoder_self"]
    # cross-attention by default: a row per target token, a column per source token
    assert len(api["target_tokens"]) != len(api["tokens"])
    _check_map(page, by_kind["cross"][-1].mean(0))
    _shot(page, "en-fr")
    page.select_option("#kind", "decoder_self")
    _check_map(page, by_kind["decoder_self"][-1].mean(0))
    page.select_option("#kind", "self")
    page.select_option("#head", "0")
    _check_map(page, by_kind["self"][-1][0])

    forced = "Impossible de supprimer le fichier {name}."
    page.fill("#target", forced)
    _explore(page, SOURCE)
    assert "forced" in page.inner_text("#summary")
    api = _api(server, "/v1/attention", {"model": "en-fr", "text": SOURCE, "target": forced})
    assert page.inner_text("#translation") == api["translation"]
    cross = np.asarray([m for m in api["attention"] if m["kind"] == "cross"][-1]["weights"])
    _check_map(page, cross.mean(0))


def test_a_translation_appears_as_it_decodes(page: Any, server: Server) -> None:
    """The page reads /v1/translate/stream: the translation grows on screen, token by
    token for greedy, before the maps come (hidden meanwhile: they are the last text's)."""
    _open(page, server, "en-fr")
    page.select_option("#beam", "1")
    page.fill("#text", SOURCE)
    page.evaluate(
        """() => { window.seen = [];
        new MutationObserver(() => {
            const t = document.querySelector('#translation');
            const maps = document.querySelector('#maps');
            if (t) window.seen.push([t.textContent, maps.hidden]);
        }).observe(document.querySelector('#summary'), {childList: true, subtree: true}); }"""
    )
    page.click("#run")
    page.wait_for_selector("#query:not([aria-busy])", state="attached")
    assert page.is_hidden("#error"), page.inner_text("#error")
    seen = page.evaluate("() => window.seen")
    final = _api(server, "/v1/translate", {"model": "en-fr", "texts": [SOURCE], "beam_size": 1})
    translation = final["results"][0]["translation"]
    growing = [text for text, hidden in seen if hidden]
    assert len(set(growing)) >= 5, seen  # one view per token, not the answer at once
    assert all(translation.startswith(t) for t in growing)
    assert seen[-1] == [translation, False]  # then the result, with its maps
    assert page.is_visible("#heatmap")


def test_the_api_s_errors_are_shown_in_its_words(page: Any, server: Server) -> None:
    _open(page, server, "sentiment")
    page.fill("#text", "word " * 400)
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    error = page.inner_text("#error")
    assert "(422)" in error and "401 tokens long; this model takes at most 256" in error
    assert page.is_enabled("#run")
    _shot(page, "error-too-long")
    # the same text with truncation asked for is explored
    page.check("#truncate")
    _explore(page, "word " * 400)
    assert _shape(page) == (256, 256)
    assert page.is_visible("#results")

    page.fill("#text", "   ")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error").startswith("Type or paste some text first")
    # the maps of the earlier text are gone, not left under the error
    assert page.is_hidden("#results") and page.is_visible("#empty")
    _explore(page, SENTENCE)
    assert page.is_visible("#results")

    # overload: the service's 429 (made here by intercepting the call) is shown with its wait
    def busy(route: Any) -> None:
        route.fulfill(
            status=429,
            headers={"Retry-After": "1", "Content-Type": "application/json"},
            body=json.dumps({"error": {"type": "queue_full", "message": "the queue is full"}}),
        )

    page.route("**/v1/classify", busy)
    page.fill("#text", SENTENCE)
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "The service is busy; try again in 1 s: the queue is full"
    assert page.is_hidden("#results") and page.is_visible("#empty")
    assert "got no answer" in page.inner_text("#empty")


def test_phone_width(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        _open(page, server, "en-fr")
        _explore(page, SOURCE)
        # the page fits the screen; only the map scrolls sideways, inside its own box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.is_visible("#heatmap")
        _shot(page, "en-fr-phone")
    finally:
        context.close()


def test_a_service_with_api_keys_asks_for_one(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = "explorer-test-key-0123456789"
    s = start(tmp_path_factory.mktemp("keyed"), ATTNSERVE_API_KEYS=key)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{s.url}/")
        page.wait_for_selector("#auth:not([hidden])")
        assert "(401)" in page.inner_text("#error") and "API key" in page.inner_text("#error")
        page.fill("#key", key)
        page.click("#use-key")
        expect(page.locator("#model-info")).to_contain_text("version")
        _explore(page, SOURCE)
        assert page.inner_text("#translation")
        assert page.is_hidden("#auth")
    finally:
        context.close()
        stop(s)
