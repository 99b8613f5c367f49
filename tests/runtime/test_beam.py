"""The NumPy beam search against the PyTorch reference decoder, token for token, and its
own edge cases. The decoder steps are the PyTorch model's (no ONNX here): this isolates
the search logic; tests/export/test_pipeline.py drives the real ONNX graphs."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

from core.text.tokenizer import EOS_ID, SENTINEL_IDS
from models.decoding import beam_search as reference
from runtime import beam
from runtime.candidates import Candidates, from_logits
from tests.small_models import small_translator

VOCAB = 120


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return small_translator(VOCAB, seed=3)


def _fns(model):  # type: ignore[no-untyped-def]
    def encode(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            k, v, _ = model.encode(torch.from_numpy(ids), torch.from_numpy(mask))
        return k.numpy(), v.numpy()

    def step(*args: Any, top_k: int) -> tuple[Candidates, list[np.ndarray], list[np.ndarray]]:
        # the self-attention caches come one array per layer: stacked for the model
        stacked = (torch.from_numpy(np.stack(a) if isinstance(a, list) else a) for a in args)
        with torch.no_grad():
            logits, k, v, _ = model.decode_step(*stacked)
        return from_logits(logits[:, -1].numpy(), top_k), list(k.numpy()), list(v.numpy())

    return encode, step


def _sources(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, n)
    ids = np.zeros((n, lengths.max()), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, n_tok in enumerate(lengths):
        row = rng.integers(20, VOCAB, n_tok)
        if i % 3 == 0 and n_tok > 2:  # placeholders, one of them twice
            row[0], row[1] = SENTINEL_IDS[0], SENTINEL_IDS[0]
            row[-1] = SENTINEL_IDS[2]
        row[n_tok - 1] = EOS_ID
        ids[i, :n_tok], mask[i, :n_tok] = row, 1
    return ids, mask


@pytest.mark.parametrize(
    ("width", "penalty", "constrain"),
    [(1, 1.0, True), (4, 1.0, True), (4, 1.5, True), (3, 0.6, False), (8, 1.0, True)],
)
def test_equals_the_pytorch_reference_token_for_token(model, width, penalty, constrain) -> None:  # type: ignore[no-untyped-def]
    ids, mask = _sources(24, seed=width)
    encode, step = _fns(model)
    want = reference(
        model,
        torch.from_numpy(ids),
        torch.from_numpy(mask),
        beam=width,
        max_len=40,
        length_penalty=penalty,
        constrain_placeholders=constrain,
    )
    got = beam.beam_search(
        encode,
        step,
        ids,
        mask,
        (2, 4, 8),
        model.cfg.max_len,
        beam=width,
        max_len=40,
        length_penalty=penalty,
        constrain_placeholders=constrain,
    )
    assert [h.tokens for h in got] == [h.tokens for h in want]
    assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)
    lengths = {len(h.tokens) for h in got}
    assert len(lengths) > 3  # hypotheses really ended at different points


def test_placeholders_come_out_exactly_as_they_went_in(model) -> None:  # type: ignore[no-untyped-def]
    ids, mask = _sources(12, seed=5)
    encode, step = _fns(model)
    got = beam.beam_search(encode, step, ids, mask, (2, 4, 8), model.cfg.max_len, beam=4)
    for row, hyp in zip(ids, got, strict=True):
        for s in SENTINEL_IDS[:3]:
            limit_hit = len(hyp.tokens) >= 2 * int((row > 0).sum()) + 10
            assert hyp.tokens.count(s) == list(row).count(s) or limit_hit


def test_ties_go_to_the_lower_candidate_index_as_in_the_reference() -> None:
    cand = np.array([[0.5, 1.0, 1.0, -np.inf, 1.0, 0.2]], dtype=np.float32)
    scores, idx = beam.top_k(cand, 4)
    assert idx.tolist() == [[1, 2, 4, 0]]
    assert scores.tolist() == [[1.0, 1.0, 1.0, 0.5]]
    flat = np.zeros((1, 1000), dtype=np.float32)  # a tie at the cut-off, too
    assert beam.top_k(flat, 3)[1].tolist() == [[0, 1, 2]]
    ref = torch.from_numpy(flat).sort(dim=1, descending=True, stable=True).indices[:, :3]
    assert ref.tolist() == [[0, 1, 2]]


def test_non_finite_logits_are_refused(model) -> None:  # type: ignore[no-untyped-def]
    encode, step = _fns(model)

    def nan_step(*args: Any, top_k: int) -> tuple[Candidates, list[np.ndarray], list[np.ndarray]]:
        cand, k, v = step(*args, top_k=top_k)
        logits = np.zeros((len(cand.ids), VOCAB), np.float32)
        logits[-1, 7] = np.nan  # one logit of one row
        return from_logits(logits, top_k), k, v

    ids, mask = _sources(2, seed=0)
    with pytest.raises(FloatingPointError, match="non-finite logits"):
        beam.beam_search(encode, nan_step, ids, mask, (2, 4, 8), 128)


def test_bad_arguments_and_an_empty_batch(model) -> None:  # type: ignore[no-untyped-def]
    encode, step = _fns(model)
    ids, mask = _sources(2, seed=0)
    with pytest.raises(ValueError, match=r"beam must be in 1\.\.16"):
        beam.beam_search(encode, step, ids, mask, (2, 4, 8), 128, beam=0)
    with pytest.raises(ValueError, match="max_len must be at least 1"):
        beam.beam_search(encode, step, ids, mask, (2, 4, 8), 128, max_len=0)
    empty = np.zeros((0, 1), dtype=np.int64)
    assert beam.beam_search(encode, step, empty, empty, (2, 4, 8), 128) == []


@pytest.mark.parametrize("width", [1, 4])
def test_the_repetition_guard_matches_the_reference_and_stops_every_run(model, width) -> None:  # type: ignore[no-untyped-def]
    from core.decoding import MAX_COPIES

    ids, mask = _sources(24, seed=10 + width)
    ids[1, :4] = [30, 31, 30, 31]  # runs in the source, which the guard lets a copy have
    ids[2, :3] = [40, 40, 40]
    encode, step = _fns(model)
    kwargs: dict[str, Any] = {"beam": width, "max_len": 40}
    want = reference(
        model, torch.from_numpy(ids), torch.from_numpy(mask), block_repeats=True, **kwargs
    )
    args = (encode, step, ids, mask, (2, 4, 8), model.cfg.max_len)
    got = beam.beam_search(*args, block_repeats=True, **kwargs)
    free = beam.beam_search(*args, **kwargs)
    assert [h.tokens for h in got] == [h.tokens for h in want]
    assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)
    assert [h.tokens for h in got] != [h.tokens for h in free]  # an untrained model repeats

    def runs(tokens: list[int]) -> bool:
        return any(
            len({tuple(tokens[i + k * n : i + (k + 1) * n]) for k in range(c + 1)}) == 1
            for n, c in MAX_COPIES.items()
            for i in range(len(tokens) - n * (c + 1) + 1)
        )

    assert any(runs(h.tokens) for h in free) and not any(runs(h.tokens) for h in got)


@pytest.mark.parametrize(("width", "letters"), [(1, b"ab"), (4, b"ab"), (1, b"a"), (3, b"a")])
def test_the_loop_guard_matches_the_reference_and_leaves_no_letter_run(
    model, width: int, letters: bytes
) -> None:  # type: ignore[no-untyped-def]
    """Every token spells a letter (b"a" alone: every candidate after "aaa" but EOS is
    skipped, so sources end by the guard's fallback); both decoders skip the same."""
    from core.loops import LoopGuard

    surfaces = [bytes([letters[i % len(letters)]]) * (1 + i % 2) for i in range(VOCAB)]
    surfaces[:20] = [b""] * 20  # the specials and sentinels, as SubwordTokenizer.surfaces
    loops = LoopGuard(surfaces)
    ids, mask = _sources(24, seed=20 + width)
    encode, step = _fns(model)
    kwargs: dict[str, Any] = {"beam": width, "max_len": 40}
    want = reference(model, torch.from_numpy(ids), torch.from_numpy(mask), loops=loops, **kwargs)
    args = (encode, step, ids, mask, (2, 4, 8), model.cfg.max_len)
    got = beam.beam_search(*args, loops=loops, **kwargs)
    free = beam.beam_search(*args, **kwargs)
    assert [h.tokens for h in got] == [h.tokens for h in want]
    assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)

    def spelled(tokens: list[int]) -> bytes:
        return b"".join(surfaces[t] if t >= 20 else b"|" for t in tokens)

    def runs(hyps: list[Any]) -> int:  # outputs with a letter run their source lacks
        held = [spelled(ids[i, : mask[i].sum()].tolist()) for i in range(len(ids))]
        return sum(
            any(m.group(0) not in held[i] for m in re.finditer(rb"(\w)\1{3,}", spelled(h.tokens)))
            for i, h in enumerate(hyps)
        )

    assert runs(free) > 3 and runs(got) == 0
