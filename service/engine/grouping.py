"""The batcher's limits, and which queued items form the next batch: the oldest item's
group of similar lengths, capped by count, by padded tokens (n × longest) and by the
padding ratio."""

from __future__ import annotations

from dataclasses import dataclass

from core.batching import length_batches


@dataclass(frozen=True)
class Limits:
    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    max_wait_s: float = 0.0
    max_queue: int = 512
    max_padding: float = float("inf")  # padded / real tokens of a batch at most
    workers: int = 1  # batches running at once (each on its own engine thread)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_batch_tokens < 1 or self.max_queue < 1:
            raise ValueError("max_batch_size, max_batch_tokens and max_queue must be ≥ 1")
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s must be ≥ 0")
        if self.workers < 1:
            raise ValueError("workers must be ≥ 1")
        if not self.max_padding >= 1:
            raise ValueError("max_padding must be ≥ 1 (padded tokens over real tokens)")


def next_group(costs: list[int], limits: Limits) -> tuple[list[int], bool]:
    """Indices into ``costs`` (index 0 is the oldest item, the others its peers in queue
    order) of the batch that takes the oldest item, and whether that batch is full — it
    should leave now rather than wait for more."""
    groups = length_batches(costs, limits.max_batch_tokens, limits.max_batch_size)
    group = next(g for g in groups if 0 in g)
    group = within_padding(group, [costs[i] for i in group], limits.max_padding)
    padded = len(group) * max(costs[i] for i in group)
    full = (
        len(groups) > 1
        or len(group) >= limits.max_batch_size
        or padded + min(costs) > limits.max_batch_tokens
    )
    return group, full


def within_padding(group: list[int], costs: list[int], cap: float) -> list[int]:
    """The largest run of ``group`` (sorted by cost) that holds the oldest item (index 0)
    and whose padded size (n × longest) is at most ``cap`` × its real size. The others wait
    for a batch of their own length: on a CPU, padding is computed like real tokens.
    Every run around the oldest is tried: the ratio is not monotone in either end (a
    longer item can lower it), and a group holds at most max_batch_size items."""
    if cap == float("inf") or len(group) < 2:
        return group
    p = group.index(0)
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    best = (p, p)
    for lo in range(p + 1):
        for hi in range(max(p, lo + best[1] - best[0] + 1), len(group)):
            if (hi - lo + 1) * costs[hi] <= cap * (prefix[hi + 1] - prefix[lo]):
                best = (lo, hi)
    return group[best[0] : best[1] + 1]
