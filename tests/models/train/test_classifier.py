"""Which rows a classifier epoch trains on when the corpus brings generated ones."""

from __future__ import annotations

import random

from models.train.classifier import epoch_rows


def test_each_epoch_reads_every_own_row_and_a_fresh_sample_of_generated_ones() -> None:
    generated = [False] * 50 + [True] * 200
    rng = random.Random(0)
    first, second = (epoch_rows(generated, 40, rng) for _ in range(2))
    assert first is not None and second is not None
    for rows in (first, second):
        assert len(rows) == len(set(rows)) == 90
        assert set(range(50)) <= set(rows)  # every snippet, every epoch
        assert all(generated[i] for i in rows if i >= 50)
    assert set(first) != set(second)  # another sample each epoch
    counted = epoch_rows(generated, 40, None)  # no rng: the same size, deterministic
    assert counted == epoch_rows(generated, 40, None) and counted is not None
    assert len(counted) == 90


def test_all_rows_when_the_generated_pool_is_no_larger_than_the_share() -> None:
    assert epoch_rows([False, True, True], 2, random.Random(0)) is None
    assert epoch_rows([False, True, True], 0, random.Random(0)) is None
    assert epoch_rows([False, False], 5, None) is None
