"""What both decoders share: the length rule, per source."""

import pytest

from core.decoding import length_limits


def test_length_limit_counts_the_source_and_caps_at_max_len() -> None:
    assert length_limits([3, 1], 128) == [16, 12]
    assert length_limits([3, 1], 13) == [13, 12]


def test_decoding_options_come_from_the_config_and_change_by_name() -> None:
    from core.decoding import Decoding

    d = Decoding.from_config({"beam_size": 4, "max_length": 127, "length_penalty": 1})
    assert d == Decoding(4, 127, 1.0, True) and isinstance(d.length_penalty, float)
    assert d.but(beam_size=1, max_length=None) == Decoding(1, 127, 1.0, True)
    assert d.but() == d
    with pytest.raises(ValueError, match=r"unknown decoding options \['temperature'\]"):
        d.but(temperature=0.7)


def test_the_repetition_guard_is_off_for_configs_without_it_and_read_when_given() -> None:
    from core.decoding import Decoding

    base = {"beam_size": 4, "max_length": 127, "length_penalty": 1}
    assert Decoding.from_config(base).block_repeats is False  # graphs exported before it
    assert Decoding.from_config({**base, "block_repeats": True}).block_repeats is True


def test_repeat_bars_stop_a_token_a_third_time_and_a_phrase_a_third_time() -> None:
    from core.decoding import MAX_COPIES, REPEAT_BARS, repeat_bars

    assert repeat_bars([]) == [] and repeat_bars([7]) == []
    assert repeat_bars([7, 7]) == [7]  # "tt tt" may not become "tt tt tt"
    assert repeat_bars([5, 7, 7]) == [7]
    assert repeat_bars([7, 8, 7]) == []  # no run yet
    assert repeat_bars([1, 2, 1, 2]) == [1]  # "A B A B" may not go on to a third "A B"
    assert repeat_bars([1, 2, 3, 1, 2, 3]) == [1]
    assert repeat_bars([1, 2, 3, 4, 1, 2, 3, 4]) == [1]
    assert repeat_bars([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]) == []  # five-token spans are free
    assert repeat_bars([9, 9, 9, 9]) == [9, 9]  # one run seen with period 1 and 2
    assert len(repeat_bars([4] * 12)) <= REPEAT_BARS == len(MAX_COPIES)


def test_a_run_the_source_holds_may_be_copied_and_a_placeholder_is_never_barred() -> None:
    from core.decoding import repeat_bars

    dots = [7, 8, 7, 8, 7, 8, 7]  # "0.0.0.0": "0 ." three times, then "0"
    assert repeat_bars([7, 8, 7, 8]) == [7]
    assert repeat_bars([7, 8, 7, 8], source=dots) == []
    assert repeat_bars([7, 8, 7, 8], source=[7, 8, 7, 8]) == [7]  # only twice in the source
    assert repeat_bars([4, 9, 4, 9], free=(4,)) == []  # "%s, %s, %s": the placeholder rule's
    assert repeat_bars([5, 5], source=[1, 5, 5, 5, 2]) == []


def test_no_sequence_the_guard_allows_repeats_a_span_more_than_it_says() -> None:
    import random

    from core.decoding import MAX_COPIES, repeat_bars

    rng = random.Random(3)
    for _ in range(300):
        seq: list[int] = []
        for _ in range(30):
            barred = set(repeat_bars(seq))
            choices = [t for t in (1, 2, 3) if t not in barred]
            seq.append(rng.choice(choices))
        for n, copies in MAX_COPIES.items():
            for i in range(len(seq) - n * (copies + 1) + 1):
                spans = [tuple(seq[i + k * n : i + (k + 1) * n]) for k in range(copies + 1)]
                assert len(set(spans)) > 1, (seq, n, i)


def test_the_loop_guard_is_off_for_configs_without_it_and_read_when_given() -> None:
    from core.decoding import Decoding

    base = {"beam_size": 4, "max_length": 127, "length_penalty": 1}
    assert Decoding.from_config(base).block_loops is False  # graphs exported before it
    assert Decoding.from_config({**base, "block_loops": True}).block_loops is True
