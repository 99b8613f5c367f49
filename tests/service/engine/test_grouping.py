"""Which items form the next batch: the limits, the oldest item's length group, and the
padding cap's window (against a brute force over every run)."""

from __future__ import annotations

import random

import pytest

from service.engine.grouping import Limits, next_group, within_padding


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        Limits(max_batch_size=0)
    with pytest.raises(ValueError, match="max_wait_s"):
        Limits(max_wait_s=-1)


def test_padding_cap_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="max_padding"):
        Limits(max_padding=0.9)
    with pytest.raises(ValueError, match="workers"):
        Limits(workers=0)


def test_padding_window_is_the_largest_run_around_the_oldest() -> None:
    """Against a brute-force search: the ratio is not monotone (a longer item can lower it)."""

    rng = random.Random(0)
    for _ in range(2000):
        n = rng.randint(1, 12)
        costs = sorted(rng.randint(1, 40) for _ in range(n))
        order = list(range(n))
        rng.shuffle(order)  # order[i] is the age rank of the i-th shortest; 0 is the oldest
        cap = rng.choice([1.0, 1.15, 1.5, 3.0])
        got = within_padding(order, costs, cap)
        p = order.index(0)
        feasible = [
            hi - lo + 1
            for lo in range(p + 1)
            for hi in range(p, n)
            if (hi - lo + 1) * costs[hi] <= cap * sum(costs[lo : hi + 1])
        ]
        picked = [costs[order.index(i)] for i in got]
        assert 0 in got and len(got) == max(feasible, default=1)
        assert len(picked) * max(picked) <= cap * sum(picked)
    # the case a greedy scan misses: [3, 17] alone is over 1.5, the whole run is not
    assert len(within_padding([1, 0, 2, 3, 4, 5, 6], [3, 17, 20, 26, 27, 32, 33], 1.5)) == 7


def test_the_oldest_item_s_group_and_when_it_is_full() -> None:
    limits = Limits(max_batch_size=3, max_batch_tokens=100, max_padding=1.5)
    # the oldest (index 0, cost 10) joins the items of similar length, not the long ones
    group, full = next_group([10, 50, 11, 52, 9], limits)
    assert sorted(group) == [0, 2, 4] and full  # three items: the size limit is reached
    group, full = next_group([10, 11], limits)
    assert sorted(group) == [0, 1] and not full  # room for more: it may wait for them
    group, full = next_group([60, 61], limits)
    assert group == [0] and full  # two of them would pass the token budget
