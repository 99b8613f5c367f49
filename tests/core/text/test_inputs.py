"""How token ids become model inputs: the rules training, export and serving share."""

from __future__ import annotations

from core.text.inputs import classifier_input, translator_source
from core.text.tokenizer import EOS_ID, UNK_ID


def test_a_classifier_input_is_cut_to_the_limit_and_never_empty() -> None:
    assert classifier_input([7, 8, 9], 2) == [7, 8]
    assert classifier_input([7, 8], 5) == [7, 8]
    assert classifier_input([], 5) == [UNK_ID]


def test_a_translator_source_keeps_room_for_its_end_token() -> None:
    assert translator_source([7, 8, 9], 3) == [7, 8, EOS_ID]
    assert translator_source([7], 3) == [7, EOS_ID]
    assert translator_source([], 3) == [EOS_ID]
