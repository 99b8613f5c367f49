"""Translations driven through the ONNX graphs (NumPy beam search, service runtime)
against the PyTorch reference decoder, token for token."""

from __future__ import annotations

from typing import Any

import torch

from core.batching import length_batches
from models.decoding import beam_search
from models.translator import Translator
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
