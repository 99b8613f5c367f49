"""A step's candidates read from each row's best tokens (what the search head returns)
are exactly those a stable sort of the source's whole beam × vocabulary gives after the
placeholder rule's bars: same candidates, same order, ties by (row, token) — with many
equal scores, dead beams (−inf) and rows whose best tokens are the barred ones."""

from __future__ import annotations

import numpy as np
import pytest

from core.decoding import repeat_bars
from core.loops import LoopGuard, reads
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SENTINEL_IDS
from runtime.candidates import from_logits
from runtime.search_rule import SourceBeams, bar, best_candidates, head_k, repeats

VOCAB = 60
LOOPS = LoopGuard([b"a"] * VOCAB)
SENT = np.array(SENTINEL_IDS)


def _sources(rng: np.random.Generator) -> list[SourceBeams]:
    out = []
    for key in range(int(rng.integers(1, 7))):
        beam = int(rng.choice([1, 2, 4]))
        scores = rng.integers(-3, 1, beam).astype(np.float32)  # equal scores on purpose
        scores[rng.random(beam) < 0.3] = -np.inf  # dead beams, as at the first step
        required = rng.integers(0, 2, len(SENT))
        s = SourceBeams(key, beam, 40, 1.0, bool(rng.random() < 0.7), 5, required, scores, [])
        if rng.random() < 0.4:  # the loop guard reads twice as many candidates
            s.loops = LOOPS.for_source([EOS_ID])
        out.append(s)
    return out


def _full(sources: list[SourceBeams], logp: np.ndarray, spent: np.ndarray) -> list[list]:
    """The same selection over whole rows: bars on the full vocabulary, a stable sort."""
    out, start = [], 0
    for s in sources:
        rows = logp[start : start + s.beam].copy()
        rows[:, [PAD_ID, BOS_ID]] = -np.inf
        if s.constrain:
            sp = spent[start : start + s.beam]
            rows[:, SENT] = np.where(sp, -np.inf, rows[:, SENT])
            rows[~sp.all(1), EOS_ID] = -np.inf
        flat = (s.scores[:, None] + rows).reshape(-1)
        idx = np.argsort(-flat, kind="stable")[: reads(s.beam, s.loops is not None)]
        out.append([(float(flat[i]), int(i // VOCAB), int(i % VOCAB)) for i in idx])
        start += s.beam
    return out


def _live(cands: list) -> list:
    """What the search reads: the candidates up to the first −inf."""
    scores = [c[0] for c in cands]
    return cands[: scores.index(-np.inf)] if -np.inf in scores else cands


@pytest.mark.parametrize("seed", range(6))
def test_reading_each_row_s_best_tokens_equals_the_full_selection(seed: int) -> None:
    rng = np.random.default_rng(seed)
    full_lists = barred = 0
    for _ in range(150):
        sources = _sources(rng)
        rows = sum(s.beam for s in sources)
        logits = rng.integers(-3, 2, (rows, VOCAB)).astype(np.float32)  # ties everywhere
        logits[:, [PAD_ID, BOS_ID, *SENT, EOS_ID]] += 4  # the barred tokens are each row's best
        logits[1::2] = logits[::2][: rows // 2]  # equal rows: ties across a source's beams
        spent = rng.random((rows, len(SENT))) < 0.6
        head = from_logits(logits, head_k(sources))
        full = from_logits(logits, VOCAB)  # every token: the whole row, sorted
        logp = np.full((rows, VOCAB), -np.inf, np.float32)
        np.put_along_axis(logp, full.ids, full.logp, 1)
        constrain = np.repeat([s.constrain for s in sources], [s.beam for s in sources])
        starts = np.cumsum([0, *(s.beam for s in sources)])
        got = best_candidates(sources, starts, bar(head.logp, head.ids, spent, constrain), head.ids)
        assert [_live(c) for c in got] == [_live(c) for c in _full(sources, logp, spent)]
        full_lists += sum(
            len(_live(c)) == reads(s.beam, s.loops is not None)
            for c, s in zip(got, sources, strict=True)
        )
        barred += int(np.isneginf(bar(head.logp, head.ids, spent, constrain)).sum())
    assert full_lists > 100 and barred > 1000  # the cases that matter came up


def _guarded(rng: np.random.Generator) -> list[SourceBeams]:
    """Sources with the repetition guard on, whose rows' histories end in runs: the guard
    bars one to REPEAT_BARS tokens per row, the best ones (see the test)."""
    out = _sources(rng)
    for s in out:
        s.block_repeats = bool(rng.random() < 0.8)
        s.history = []
        for _ in range(s.beam):
            a, b = (int(t) for t in rng.integers(20, VOCAB, 2))
            runs = [[a, a], [a, b, a, b], [b, a, a], [a, b], [a, a, a, a]]
            s.history.append(runs[int(rng.integers(len(runs)))])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_repetition_guard_s_bars_keep_the_reading_exact(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    guarded = 0
    for _ in range(150):
        sources = _guarded(rng)
        rows = sum(s.beam for s in sources)
        logits = rng.integers(-3, 2, (rows, VOCAB)).astype(np.float32)
        logits[:, [PAD_ID, BOS_ID, *SENT, EOS_ID]] += 4
        r = 0
        for s in sources:  # what the guard bars is each row's best besides
            for history in s.history:
                logits[r, repeat_bars(history)] += 5
                r += 1
        spent = rng.random((rows, len(SENT))) < 0.6
        head = from_logits(logits, head_k(sources))
        full = from_logits(logits, VOCAB)
        logp = np.full((rows, VOCAB), -np.inf, np.float32)
        np.put_along_axis(logp, full.ids, full.logp, 1)
        r = 0
        for s in sources:  # the whole rows with the guard's bars applied
            for history in s.history:
                if s.block_repeats:
                    logp[r, repeat_bars(history)] = -np.inf
                r += 1
        constrain = np.repeat([s.constrain for s in sources], [s.beam for s in sources])
        starts = np.cumsum([0, *(s.beam for s in sources)])
        barred = bar(head.logp, head.ids, spent, constrain, repeats(sources))
        got = best_candidates(sources, starts, barred, head.ids)
        assert [_live(c) for c in got] == [_live(c) for c in _full(sources, logp, spent)]
        guarded += sum(s.block_repeats for s in sources)
    assert guarded > 300


def test_without_the_guard_no_row_is_barred_for_repeating() -> None:
    s = SourceBeams(
        0, 2, 40, 1.0, False, 5, np.zeros(len(SENT), int), np.zeros(2), [[30, 30], [30]]
    )
    assert repeats([s]) is None
    s.block_repeats = True
    assert repeats([s]).tolist() == [[30, -1, -1, -1], [-1, -1, -1, -1]]
