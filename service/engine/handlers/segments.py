"""A translation text of several sentences, or over the model's limit: the pieces it is
translated in, and how the pieces' answers become the text's (``core.text.segment`` does
the cutting)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.text.segment import Piece, pieces
from service.engine.handlers.base import InputError


def split(
    text: str, tokens: int, fits: Callable[[str], bool], limit: int, budget: int, where: str
) -> list[Piece]:
    """The pieces of ``text``, which is ``tokens`` long: its sentences, each cut further
    while over ``limit``. A text over the limit and over ``budget`` tokens in all is
    refused before any cutting."""
    if tokens > max(limit, budget):
        raise InputError(
            f"{where} is {tokens} tokens long; this service translates a text over the "
            f"model's limit of {limit} in pieces up to {budget} tokens in all. Send it in "
            'several texts, or "truncate": true to cut it'
        )
    return pieces(text, fits)


def joined(group: Sequence[tuple[Piece, dict[str, Any], int]]) -> dict[str, Any]:
    """The answer of a text from its pieces' (piece, answer, generated tokens + EOS): their
    translations joined, their mean score per token, and each in ``segments``."""
    segments = [{"source": p.head + p.text + p.tail, **answer} for p, answer, _ in group]
    weights = [n for _, _, n in group]
    score = sum(s["score"] * w for s, w in zip(segments, weights, strict=True)) / sum(weights)
    return {
        "translation": "".join(s["translation"] for s in segments),
        "score": round(score, 6),
        "segments": segments,
    }
