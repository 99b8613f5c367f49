"""One source's beams and the rule that advances them by one step: what ``runtime/beam.py``
states (candidates read in order; an EOS finishes a hypothesis while fewer than ``beam``
have; the others continue, up to ``beam``; at the length limit the live ones finish too;
scores ``sum(log p) / step ** length_penalty``), applied to each source on its own; and
how a step's candidates are read from each row's best tokens (the search head's output)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.decoding import REPEAT_BARS, Hypothesis, repeat_bars
from core.loops import SourceLoops, reads
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SENTINEL_IDS

Array = np.ndarray
NEVER = (PAD_ID, BOS_ID)  # tokens never generated
# every token the placeholder rule may bar in a row besides: each sentinel, and EOS
BARRABLE = len(SENTINEL_IDS) + 1


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
    block_repeats: bool = False  # the repetition guard (core.decoding.repeat_bars)
    source: tuple[int, ...] = ()  # the source's ids: a run it holds may be copied
    loops: SourceLoops | None = None  # the loop guard (core.loops), when on


def choose(
    s: SourceBeams, start: int, candidates: list[tuple[float, int, int]]
) -> list[tuple[int, int, float]]:
    """The search rule for one source at its step: ``candidates`` (score, row within the
    source, token), best first, read in order; one the loop guard skips is passed over;
    an EOS finishes a hypothesis (while fewer than ``beam`` have), the others continue (up
    to ``beam``); at the length limit the live ones finish too. When every candidate was
    passed over and none has finished, the hypotheses end as they are. Live (row, token,
    score), rows of the whole set."""
    live: list[tuple[int, int, float]] = []
    for score, r, tok in candidates:
        if score == -np.inf:
            break
        if s.loops is not None and s.loops.loops(s.history[r], tok):
            continue
        row = start + r
        if tok == EOS_ID:
            if len(s.finished) < s.beam:
                prefix = list(s.history[r])
                s.finished.append(Hypothesis(prefix, score / (s.step**s.length_penalty)))
        elif len(live) < s.beam:
            live.append((row, tok, score))
        if len(live) == s.beam:
            break
    if s.step >= s.limit and len(s.finished) < s.beam:
        for row, tok, score in live[: s.beam - len(s.finished)]:
            prefix = [*s.history[row - start], tok]
            s.finished.append(Hypothesis(prefix, score / (s.step**s.length_penalty)))
    if not live and not s.finished:
        for r, score in enumerate(s.scores.tolist()):
            if score > -np.inf:
                s.finished.append(
                    Hypothesis(list(s.history[r]), score / (s.step**s.length_penalty))
                )
    return live


def head_k(sources: Sequence[SourceBeams]) -> int:
    """How many best tokens per row a step needs so that every source reads the same
    candidates as from whole rows: a source's ``reads(beam)`` best over its beam ×
    vocabulary are among its rows' own ``reads(beam)`` best, once what may be barred in a
    row is set aside (PAD and BOS always; every sentinel and EOS under the placeholder
    rule)."""
    return max(_width(*_kind(s)) for s in sources)


def _kind(s: SourceBeams) -> tuple[int, bool, bool, bool]:
    return s.beam, s.constrain, s.block_repeats, s.loops is not None


def _width(beam: int, constrain: bool, block: bool = False, loops: bool = False) -> int:
    """Best tokens per row that hold a source's candidates (``head_k``): the repetition
    guard may bar REPEAT_BARS more; the loop guard reads more candidates
    (``core.loops.reads``)."""
    barrable = len(NEVER) + (BARRABLE if constrain else 0) + (REPEAT_BARS if block else 0)
    return reads(beam, loops) + barrable


def best_candidates(
    sources: Sequence[SourceBeams], starts: Array, logp: Array, ids: Array
) -> list[list[tuple[float, int, int]]]:
    """Per source, its ``reads(beam)`` best (score, row within the source, token) over its
    beam × vocabulary, best first, equal scores by (row, token) as a stable sort of the
    flattened candidates gives; sources of one beam width are selected together. Each
    row's own best (``logp``, ``ids`` (R, K), after ``bar``) hold them (``head_k``)."""
    out: list[list[tuple[float, int, int]]] = [[] for _ in sources]
    widths: dict[tuple[int, bool, bool, bool], list[int]] = {}
    for b, s in enumerate(sources):
        widths.setdefault(_kind(s), []).append(b)
    for (beam, constrain, block, loops), members in widths.items():
        k = min(logp.shape[1], _width(beam, constrain, block, loops))
        rows = np.concatenate([np.arange(starts[b], starts[b] + beam) for b in members])
        scores = np.concatenate([sources[b].scores for b in members])
        n = len(members)
        cand = (scores[:, None] + logp[rows, :k]).reshape(n, beam * k)
        tok = ids[rows, :k].reshape(n, beam * k)
        row = np.broadcast_to(np.repeat(np.arange(beam), k), (n, beam * k))
        order = np.lexsort((tok, row, -cand), axis=-1)[:, : reads(beam, loops)]  # (n, reads)
        picked = zip(
            np.take_along_axis(cand, order, 1).tolist(),
            np.take_along_axis(row, order, 1).tolist(),
            np.take_along_axis(tok, order, 1).tolist(),
            strict=True,
        )
        for b, (sc, r, t) in zip(members, picked, strict=True):
            out[b] = list(zip(sc, r, t, strict=True))
    return out


def repeats(sources: Sequence[SourceBeams]) -> Array | None:
    """(R, REPEAT_BARS) the tokens each row's repetition guard bars (−1: none), or None
    when no source has the guard on."""
    if not any(s.block_repeats for s in sources):
        return None
    out = np.full((sum(len(s.history) for s in sources), REPEAT_BARS), -1, dtype=np.int64)
    r = 0
    for s in sources:
        for history in s.history:
            if s.block_repeats:
                found = repeat_bars(history, s.source, SENTINEL_IDS)
                out[r, : len(found)] = found
            r += 1
    return out


def bar(
    logp: Array, ids: Array, spent: Array, constrain: Array, repeated: Array | None = None
) -> Array:
    """``logp`` (R, K) with what may not be generated set to −inf: PAD and BOS; on
    constrained rows a sentinel the row has emitted as often as its source holds it
    (``spent`` (R, n_ph)), and EOS while a sentinel is still owed; and each row's tokens
    in ``repeated`` (R, REPEAT_BARS) (the repetition guard)."""
    barred = np.isin(ids, NEVER)
    if repeated is not None:
        barred |= (ids[:, :, None] == repeated[:, None, :]).any(-1)
    if constrain.any():
        first = SENTINEL_IDS[0]  # the sentinels' ids are consecutive
        slot = ids - first
        is_sentinel = (slot >= 0) & (slot < len(SENTINEL_IDS)) & constrain[:, None]
        r, c = np.nonzero(is_sentinel)
        barred[r, c] |= spent[r, slot[r, c]]  # the guard never bars a sentinel; keep the rest
        owed = ~np.all(spent, axis=1, keepdims=True) & constrain[:, None]  # (R, 1)
        barred |= (ids == EOS_ID) & owed
    return np.where(barred, -np.inf, logp).astype(np.float32)
