"""Translations driven through the ONNX graphs (NumPy beam search, service runtime)
against the PyTorch reference decoder, token for token; and, on a graph whose rows may be
at different steps, the same sources decoded under a random arrival schedule (sources
joining a running set between steps, beam widths mixed) against static batches."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import torch

from core.batching import length_batches
from core.decoding import Decoding, Hypothesis
from models.decoding import beam_search
from models.translator import Translator
from runtime.beamset import BeamSet
from runtime.session import pad
from runtime.translator import TranslatorRuntime


def compare(
    model: Translator,
    runtime: TranslatorRuntime,
    texts: list[str],
    beams: tuple[int, ...] = (1, 4),
    max_tokens: int = 4000,
) -> dict[str, Any]:
    """{"greedy": {"sentences", "identical", "first_difference"?}, "beam4": {...}}."""
    encoded = [ids for ids, _ in runtime.encode(texts)]
    out: dict[str, Any] = {}
    for beam in beams:
        same, first = 0, None
        for batch in length_batches([len(s) for s in encoded], max_tokens // beam, 64):
            seqs = [encoded[i] for i in batch]
            ids, mask = pad(seqs)
            with torch.no_grad():
                want = beam_search(
                    model,
                    torch.from_numpy(ids),
                    torch.from_numpy(mask),
                    beam=beam,
                    max_len=model.cfg.max_len,
                    block_repeats=runtime.decoding.block_repeats,
                    loops=runtime.loops if runtime.decoding.block_loops else None,
                )
            got = runtime.search(
                seqs, runtime.decoding.but(beam_size=beam, max_length=model.cfg.max_len)
            )
            for i, w, g in zip(batch, want, got, strict=True):
                if w.tokens == g.tokens:
                    same += 1
                elif first is None:
                    first = {"text": texts[i], "pytorch": w.tokens, "onnx": g.tokens}
        entry: dict[str, Any] = {"sentences": len(texts), "identical": same}
        if first is not None:
            entry["first_difference"] = first
        out["greedy" if beam == 1 else f"beam{beam}"] = entry
    return out


def scheduled(
    beams: BeamSet,
    entries: Sequence[tuple[Hashable, list[int], Decoding]],
    seed: int,
    most_per_step: int = 6,
) -> dict[Hashable, Hypothesis]:
    """Decode ``entries`` through ``beams`` with a random number (0..most_per_step) of them
    joining before each step, in a random order; every result by key."""
    rng = np.random.default_rng(seed)
    waiting = [entries[i] for i in rng.permutation(len(entries))]
    found: dict[Hashable, Hypothesis] = {}
    while waiting or len(beams):
        n = int(rng.integers(0, most_per_step + 1)) if len(beams) else max(1, most_per_step)
        if n and waiting:
            beams.admit(waiting[:n])
            waiting = waiting[n:]
        found.update(beams.step())
    return found


def continuous(
    runtime: TranslatorRuntime, texts: list[str], seed: int = 0, beams: tuple[int, ...] = (1, 4)
) -> dict[str, Any]:
    """{"sentences", "identical", "first_difference"?}: each source (beam width drawn from
    ``beams``) decoded under a random schedule beside the others, against the same source
    in a static batch of its beam width."""
    rng = np.random.default_rng(seed)
    encoded = [ids for ids, _ in runtime.encode(texts)]
    width = [int(rng.choice(beams)) for _ in texts]
    want: dict[int, Hypothesis] = {}
    for beam in beams:
        idx = [i for i, w in enumerate(width) if w == beam]
        for batch in length_batches([len(encoded[i]) for i in idx], 4000 // beam, 64):
            d = runtime.decoding.but(beam_size=beam)
            hyps = runtime.search([encoded[idx[j]] for j in batch], d)
            want.update((idx[j], h) for j, h in zip(batch, hyps, strict=True))
    entries = [(i, encoded[i], runtime.decoding.but(beam_size=width[i])) for i in range(len(texts))]
    got = scheduled(runtime.beam_set(), entries, seed)
    same = [i for i in range(len(texts)) if got[i].tokens == want[i].tokens]
    out: dict[str, Any] = {"sentences": len(texts), "identical": len(same)}
    differ = sorted(set(range(len(texts))) - set(same))
    if differ:
        i = differ[0]
        out["first_difference"] = {
            "text": texts[i],
            "beam": width[i],
            "static": want[i].tokens,
            "scheduled": got[i].tokens,
        }
    return out
