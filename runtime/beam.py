"""Batched greedy and beam search in NumPy, over any encoder and decoder-step pair.

It is the served twin of ``models/decoding.py`` (the PyTorch reference) and follows the
same rules to the letter, so that the two agree token for token (checked by the export
and by the tests): per-source length limits ``min(max_len, model_max_len - 1,
2·|src| + 10)``; ``core.loops.reads(beam)`` candidates per source read in order (those
the loop guard skips passed over); finished score
``sum(log p) / len ** length_penalty`` with EOS counted; PAD and BOS never generated;
placeholder sentinels emitted exactly as often as the source holds them and EOS barred
while one is owed; finished sources leave the batch. Ties between equal scores go to the
lower candidate index.

It is one ``BeamSet`` (``runtime/beamset.py``) that all sources join at once and that
runs until they have all left; the service's continuous batching drives the same set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from core.decoding import Decoding, Hypothesis
from core.loops import LoopGuard
from runtime.beamset import Array, BeamSet, EncodeFn, StepFn
from runtime.candidates import MAX_BEAM, check_beam, log_softmax, top_k

__all__ = ["MAX_BEAM", "beam_search", "check_beam", "log_softmax", "top_k"]


def beam_search(
    encode: EncodeFn,
    step_fn: StepFn,
    src_ids: Array,  # (B, S) int64
    src_mask: Array,  # (B, S) int64
    cache_shape: tuple[int, int, int],  # (layers, heads, head_dim) of the self-attention cache
    model_max_len: int,
    beam: int = 4,
    max_len: int = 128,
    length_penalty: float = 1.0,
    constrain_placeholders: bool = True,
    ragged: bool = False,
    block_repeats: bool = False,
    loops: LoopGuard | None = None,
    on_step: Callable[[BeamSet], None] | None = None,
) -> list[Hypothesis | None]:
    """The best hypothesis of each source, in order. ``step_fn`` takes (tokens, self_k,
    self_v, cross_k, cross_v, src_mask), and ``positions``, ``past_mask`` after them when
    ``ragged``. ``on_step`` sees the set after every step (sources keyed by their index):
    it may read what each has agreed on, or drop some (their result is then None).
    ``loops``: the vocabulary's loop guard (``core.loops``), on when given."""
    check_beam(beam)
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if src_ids.shape[0] == 0:
        return []
    d = Decoding(
        beam, max_len, length_penalty, constrain_placeholders, block_repeats, loops is not None
    )
    beams = BeamSet(encode, step_fn, cache_shape, model_max_len, ragged, loops)
    lengths = src_mask.sum(1).tolist()
    beams.admit([(i, src_ids[i, :n].tolist(), d) for i, n in enumerate(lengths)])
    found: dict[Hashable, Hypothesis] = {}
    while len(beams):
        found.update(beams.step())
        if on_step is not None and len(beams):
            on_step(beams)
    return [found.get(i) for i in range(len(lengths))]
