"""How token ids become model inputs: one definition for training, export and serving.

A model repository records these rules (``config.json``), and the service applies them
from here, so a served model sees its inputs exactly as it saw them in training.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.text.tokenizer import EOS_ID, UNK_ID


def classifier_input(ids: Sequence[int], max_len: int) -> list[int]:
    """The first ``max_len`` tokens; an empty text becomes a single ``<unk>``."""
    return list(ids[:max_len]) or [UNK_ID]


def translator_source(ids: Sequence[int], max_len: int) -> list[int]:
    """The first ``max_len - 1`` tokens, then ``</s>``."""
    return [*ids[: max_len - 1], EOS_ID]
