"""Heatmaps: any token prints as it is; a map that does not exist is a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from service.api.heatmap import render

OUT: dict[str, Any] = {
    "model": "m",
    "version": 1,
    "tokens": ["$x$", "a_b", "%d", "\\frac"],
    "target_tokens": ["y", "</s>"],
    "attention": [
        {"layer": 0, "kind": "self", "weights": [[[0.25] * 4] * 4] * 2},
        {"layer": 0, "kind": "cross", "weights": [[[0.25] * 4] * 2] * 2},
        {"layer": 0, "kind": "decoder_self", "weights": [[[1.0, 0.0], [0.5, 0.5]]] * 2},
    ],
}


@pytest.mark.parametrize(("kind", "head"), [("self", None), ("cross", 1), ("decoder_self", 0)])
def test_maps_render_with_mathtext_like_tokens(kind: str, head: int | None) -> None:
    assert render(OUT, kind, None, head).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("kind", "layer", "head", "fragment"),
    [
        ("pooling", None, None, "no 'pooling'"),
        ("self", 3, None, "layer must be one of"),
        ("self", 0, 2, "head must be from 0 to 1"),
    ],
)
def test_missing_maps_are_named(
    kind: str, layer: int | None, head: int | None, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        render(OUT, kind, layer, head)
