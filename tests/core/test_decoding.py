"""What both decoders share: the length rule, per source."""

from core.decoding import length_limits


def test_length_limit_counts_the_source_and_caps_at_max_len() -> None:
    assert length_limits([3, 1], 128) == [16, 12]
    assert length_limits([3, 1], 13) == [13, 12]
