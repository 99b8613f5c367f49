"""The contract between the routes and ONNX Runtime, one handler per model version:
``prepare`` (tokenise and check, off the event loop; items with their costs) → the batcher
→ ``run_batch`` (one batch, one output per item) → ``respond`` (the answer for each text,
the one place it is built: /v1 sends it as JSON, /v2 as tensors). Items carry everything a batch needs, so the
batcher only sees opaque items, their costs and a grouping key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Handler(Protocol):
    task: str  # "classification" | "translation"
    max_tokens: int  # the longest input it takes, in tokens

    def run_batch(self, items: list[Any]) -> Sequence[Any]: ...
    def respond(self, outputs: Sequence[Any]) -> list[dict[str, Any]]: ...
    def tokens(self, ids: Sequence[int]) -> list[str]: ...
    def warmup(self) -> None: ...
    @property
    def precision(self) -> str: ...
    @property
    def provider(self) -> str: ...


class InputError(ValueError):
    """A request the model cannot take as sent; the message says what to change."""


def check_length(i: int, n: int, limit: int, truncate: bool, count: int) -> None:
    if n > limit and not truncate:
        which = f"text {i}" if count > 1 else "the text"
        raise InputError(
            f"{which} is {n} tokens long; this model takes at most {limit}. "
            'Shorten it, split it, or send "truncate": true to cut it to the limit'
        )
