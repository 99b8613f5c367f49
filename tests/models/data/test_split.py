from models.data.split import assign, split_of


def test_split_is_deterministic_and_roughly_proportional() -> None:
    groups = [f"g{i}" for i in range(5000)]
    first = [split_of(g, "salt") for g in groups]
    assert first == [split_of(g, "salt") for g in groups]
    share = {s: first.count(s) / len(first) for s in ("train", "valid", "test")}
    assert (
        0.77 < share["train"] < 0.83
        and 0.08 < share["valid"] < 0.12
        and 0.08 < share["test"] < 0.12
    )


def test_a_group_never_straddles_splits_whatever_the_order() -> None:
    items = [(f"movie{i % 50}", n) for n, i in enumerate(range(1000))]
    a = assign(items, lambda x: x[0], "s")
    b = assign(list(reversed(items)), lambda x: x[0], "s")
    where = {g: s for s, rows in a.items() for g, _ in rows}
    assert all(where[g] == s for s, rows in a.items() for g, _ in rows)
    assert {s: sorted(r) for s, r in a.items()} == {s: sorted(r) for s, r in b.items()}


def test_salt_changes_the_assignment() -> None:
    groups = [f"g{i}" for i in range(200)]
    assert [split_of(g, "a") for g in groups] != [split_of(g, "b") for g in groups]
