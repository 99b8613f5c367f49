"""Attention maps as PNG heatmaps with the tokens on both axes (matplotlib, Agg), at most
``MAX_SIDE_IN`` × ``DPI`` pixels a side: past that the cells shrink and every k-th token
is labelled, so that no label overlaps the next."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np


def _pick(out: dict[str, Any], kind: str | None, layer: int | None) -> tuple[dict[str, Any], str]:
    maps = out["attention"]
    kinds = sorted({m["kind"] for m in maps})
    kind = kind or ("cross" if "cross" in kinds else "self")
    chosen = [m for m in maps if m["kind"] == kind]
    if not chosen:
        raise ValueError(f"this model has no {kind!r} attention; it has: {', '.join(kinds)}")
    if kind == "pooling":
        return chosen[0], kind
    layers = [m["layer"] for m in chosen]
    if layer is None:
        layer = layers[-1]
    if layer not in layers:
        raise ValueError(f"layer must be one of {layers} for {kind!r} attention, got {layer}")
    return chosen[layers.index(layer)], kind


DPI = 100
CELL_IN = 0.32  # inches per token while the figure is under its cap
MAX_SIDE_IN = 16.0  # a figure is at most 1600 × 1600 pixels, however long the text
LABEL_IN = 0.12  # an 8-point label needs this much room; closer ones are thinned


def _axis(n: int, least: float) -> tuple[float, int]:
    """An axis of ``n`` tokens: its length in inches (capped) and every how many tokens
    a label is drawn (1: all of them; more once the cap shrinks the cells)."""
    length = min(MAX_SIDE_IN, max(least, 1.5 + CELL_IN * n))
    per_token = (length - 1.5) / max(1, n)
    return length, max(1, math.ceil(LABEL_IN / per_token))


def render(out: dict[str, Any], kind: str | None, layer: int | None, head: int | None) -> bytes:
    """PNG bytes of one map: a layer's head (or the mean of its heads), or the pooling."""
    from matplotlib.figure import Figure  # no pyplot: no global state, safe on worker threads

    m, kind = _pick(out, kind, layer)
    src = out["tokens"]
    if kind == "pooling":
        grid = np.asarray(m["weights"], dtype=np.float64)[None, :]
        rows, title = ["pooling"], "attention pooling"
    else:
        w = np.asarray(m["weights"], dtype=np.float64)  # (h, query, key)
        heads = w.shape[0]
        if head is not None and not 0 <= head < heads:
            raise ValueError(f"head must be from 0 to {heads - 1}, got {head}")
        grid = w.mean(0) if head is None else w[head]
        which = "mean of heads" if head is None else f"head {head}"
        rows = out["target_tokens"] if kind in ("cross", "decoder_self") else src
        title = f"{out['model']} v{out['version']}: {kind} attention, layer {m['layer']}, {which}"
    # decoder_self keys are the decoder's inputs: <s>, then the target shifted by one
    cols = ["<s>", *out["target_tokens"][:-1]] if kind == "decoder_self" else src
    width, x_every = _axis(len(cols), 4.0)
    height, y_every = _axis(len(rows), 2.0)
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, aspect="auto")
    # tokens are data, not mathtext: "$" or "_" must print as they are
    xs, ys = range(0, len(cols), x_every), range(0, len(rows), y_every)
    ax.set_xticks(xs, [cols[i] for i in xs], rotation=90, fontsize=8, parse_math=False)
    ax.set_yticks(ys, [rows[i] for i in ys], fontsize=8, parse_math=False)
    ax.set_xlabel("key (source)" if kind == "cross" else "key")
    ax.set_ylabel("query (target)" if kind == "cross" else "query")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
