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


def test_a_long_text_s_map_is_capped_and_its_labels_thinned_not_overlapping() -> None:
    import struct

    from service.api.heatmap import DPI, LABEL_IN, MAX_SIDE_IN, _axis

    assert _axis(10, 4.0) == (pytest.approx(4.7), 1)  # short: every token, full-size cells
    for n in (46, 121, 257, 2000):
        length, every = _axis(n, 4.0)
        assert length <= MAX_SIDE_IN
        assert every * (length - 1.5) / n >= LABEL_IN  # labels at least 8 points apart
    assert _axis(121, 4.0)[1] == 2 and _axis(120, 4.0)[1] == 1
    n = 257
    tokens = [f"t{i}" for i in range(n)]
    out = {
        **OUT,
        "tokens": tokens,
        "attention": [
            {"layer": 0, "kind": "self", "weights": [[[1.0 / n] * n] * n]},
        ],
    }
    png = render(out, "self", None, None)
    width, height = struct.unpack(">II", png[16:24])
    assert max(width, height) <= MAX_SIDE_IN * DPI
