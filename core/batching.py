"""Length-grouped batches under a padded-token budget: one rule for training, evaluation,
export and serving."""

from __future__ import annotations

from collections.abc import Sequence


def length_batches(
    lengths: Sequence[int], max_tokens: int, max_batch: int, order: Sequence[int] | None = None
) -> list[list[int]]:
    """Indices sorted by length (stably, from ``order`` or 0..n-1) and cut so that each
    batch's padded size (n × longest) stays ≤ ``max_tokens`` and n ≤ ``max_batch``.
    A single item longer than the budget still gets a batch of its own."""
    ranked = sorted(order if order is not None else range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in ranked:
        if current and (lengths[i] * (len(current) + 1) > max_tokens or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
