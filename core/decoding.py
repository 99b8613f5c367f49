"""What both decoders share — the PyTorch reference (``models/decoding.py``) and the
NumPy beam search the service runs (``runtime/beam.py``) — so that the two cannot drift
apart: what a finished hypothesis is, and how long a translation may grow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids, without BOS and EOS
    score: float  # length-normalised log-probability


def length_limits(source_lengths: Iterable[int], max_len: int) -> list[int]:
    """New tokens each source may get, </s> included: min(max_len, 2 × its tokens + 10),
    so that the result of a source never depends on the others in its batch."""
    return [min(max_len, 2 * int(n) + 10) for n in source_lengths]
