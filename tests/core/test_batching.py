from core.batching import length_batches


def test_batches_group_by_length_under_the_padded_budget() -> None:
    lengths = [5, 1, 9, 2, 5, 30, 1]
    batches = length_batches(lengths, max_tokens=12, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 12
    assert batches[0] == [1, 6, 3]  # the shortest first, stable among equals
    assert [5] in batches  # longer than the budget: alone, never dropped


def test_a_given_order_breaks_ties() -> None:
    assert length_batches([2, 2, 2], 100, 10, order=[2, 0, 1]) == [[2, 0, 1]]
    assert length_batches([], 10, 10) == []
