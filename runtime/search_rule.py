"""One source's beams and the rule that advances them by one step: what ``runtime/beam.py``
states (candidates read in order; an EOS finishes a hypothesis while fewer than ``beam``
have; the others continue, up to ``beam``; at the length limit the live ones finish too;
scores ``sum(log p) / step ** length_penalty``), applied to each source on its own."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from core.decoding import Hypothesis
from core.text.tokenizer import EOS_ID

Array = np.ndarray


@dataclass
class SourceBeams:
    key: Hashable
    beam: int
    limit: int  # new tokens at most, EOS included
    length_penalty: float
    constrain: bool
    length: int  # source tokens (cross-attention columns it needs)
    required: Array  # (n_ph,) how often each sentinel must be generated
    scores: Array  # (beam,) float32 running log-probabilities
    history: list[list[int]]  # per row, the tokens generated so far (no BOS)
    step: int = 0  # decoder steps taken
    finished: list[Hypothesis] = field(default_factory=list)


def choose(
    s: SourceBeams, start: int, top_scores: list[float], top_idx: list[int], vocab: int
) -> list[tuple[int, int, float]]:
    """The search rule for one source at its step: candidates in order; an EOS
    finishes a hypothesis (while fewer than ``beam`` have), the others continue (up to
    ``beam``); at the length limit the live ones finish too. Live (row, token, score)."""
    live: list[tuple[int, int, float]] = []
    for score, i in zip(top_scores, top_idx, strict=True):
        if score == -np.inf:
            break
        row, tok = start + i // vocab, i % vocab
        if tok == EOS_ID:
            if len(s.finished) < s.beam:
                prefix = list(s.history[row - start])
                s.finished.append(Hypothesis(prefix, score / (s.step**s.length_penalty)))
        elif len(live) < s.beam:
            live.append((row, tok, score))
        if len(live) == s.beam:
            break
    if s.step >= s.limit and len(s.finished) < s.beam:
        for row, tok, score in live[: s.beam - len(s.finished)]:
            prefix = [*s.history[row - start], tok]
            s.finished.append(Hypothesis(prefix, score / (s.step**s.length_penalty)))
    return live
