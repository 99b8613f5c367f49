"""What both decoders share — the PyTorch reference (``models/decoding.py``) and the
NumPy beam search the service runs (``runtime/beam.py``) — so that the two cannot drift
apart: what a finished hypothesis is, how long a translation may grow, and the decoding
options."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids, without BOS and EOS
    score: float  # length-normalised log-probability


def length_limits(source_lengths: Iterable[int], max_len: int) -> list[int]:
    """New tokens each source may get, </s> included: min(max_len, 2 × its tokens + 10),
    so that the result of a source never depends on the others in its batch."""
    return [min(max_len, 2 * int(n) + 10) for n in source_lengths]


@dataclass(frozen=True)
class Decoding:
    """How a batch of sources is decoded: the one shape of the decoding options from a
    request to the beam search (a batch shares them, so it is also the batcher's key).
    A model's defaults come from its ``config.json`` (``from_config``)."""

    beam_size: int
    max_length: int  # new tokens at most, </s> included (see ``length_limits``)
    length_penalty: float
    constrain_placeholders: bool = True  # a placeholder is generated only as often as sent

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Decoding:
        return cls(
            int(cfg["beam_size"]),
            int(cfg["max_length"]),
            float(cfg["length_penalty"]),
            bool(cfg.get("constrain_placeholders", True)),
        )

    def but(self, **changes: Any) -> Decoding:
        """These options with ``changes`` (``None`` keeps the option as it is)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            known = sorted(f.name for f in fields(self))
            raise ValueError(f"unknown decoding options {sorted(unknown)}; known: {known}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
