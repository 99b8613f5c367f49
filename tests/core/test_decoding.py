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
