"""What both decoders share — the PyTorch reference (``models/decoding.py``) and the
NumPy beam search the service runs (``runtime/beam.py``) — so that the two cannot drift
apart: what a finished hypothesis is, how long a translation may grow, and the decoding
options."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
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
    block_repeats: bool = False  # the repetition guard (``repeat_bars``)
    block_loops: bool = False  # the loop guard (``core.loops``)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Decoding:
        return cls(
            int(cfg["beam_size"]),
            int(cfg["max_length"]),
            float(cfg["length_penalty"]),
            bool(cfg.get("constrain_placeholders", True)),
            bool(cfg.get("block_repeats", False)),  # graphs exported before it: off
            bool(cfg.get("block_loops", False)),  # the same
        )

    def but(self, **changes: Any) -> Decoding:
        """These options with ``changes`` (``None`` keeps the option as it is)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            known = sorted(f.name for f in fields(self))
            raise ValueError(f"unknown decoding options {sorted(unknown)}; known: {known}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# The repetition guard: a span of n generated tokens may follow itself at most
# MAX_COPIES[n] - 1 times, so one token appears at most twice in a row and a span of 2 to 4
# tokens at most twice back to back ("Gretttttttt", "files files files" cannot be made) —
# unless the source itself has that run (a copy of "0.0.0.0" or "%s, %s, %s" is no loop),
# and never for a placeholder's sentinel (the placeholder rule says how often those come).
MAX_COPIES = {1: 2, 2: 2, 3: 2, 4: 2}
REPEAT_BARS = len(MAX_COPIES)  # at most one barred token per span length


def repeat_bars(
    history: Sequence[int], source: Sequence[int] = (), free: Container[int] = ()
) -> list[int]:
    """Tokens that may not come next after ``history`` (generated tokens, no BOS): those
    that would make a span of n tokens appear MAX_COPIES[n] + 1 times back to back, unless
    ``source`` (the source's ids) holds that very run; tokens in ``free`` never."""
    bars: list[int] = []
    size = len(history)
    for n, copies in MAX_COPIES.items():
        need = n * copies  # the tokens that must already repeat with period n
        if size < need:
            continue
        tail = list(history[size - need :])
        if all(tail[i] == tail[i + n] for i in range(need - n)):
            token = int(tail[need - n])  # the token that would start copy copies+1
            if token not in free and not holds(source, [*tail, token]):
                bars.append(token)
    return bars


def holds(seq: Sequence[int], run: list[int]) -> bool:
    """True when ``run`` occurs in ``seq`` as a contiguous stretch."""
    n = len(run)
    return any(list(seq[i : i + n]) == run for i in range(len(seq) - n + 1))
