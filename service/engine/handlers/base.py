"""The contract between the routes and ONNX Runtime, one handler per model version.

A request becomes a **key** — what its batch must share: the options (``options``) or the
attention pass (``attention_key``) — and **items** with their costs (``prepare``, off the
event loop). The batcher groups items by key and hands each batch to ``run_batch(key,
items)``: the key alone says how the batch runs. ``respond`` builds each text's answer
(the one place it is built: /v1 sends it as JSON, /v2 as tensors); ``explain`` builds the
answer of /v1/attention. A handler whose model can step items at different points
together also makes ``lane()``s: the continuous batcher drives those instead."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

import numpy as np


class Handler(Protocol):
    task: str  # "classification" | "translation"
    max_tokens: int  # the longest input it takes, in tokens
    option_names: tuple[str, ...]  # the request options ``options`` takes

    def options(self, **options: Any) -> Hashable: ...
    def prepare(
        self, texts: Sequence[str], key: Any, truncate: bool = False
    ) -> list[tuple[Any, int]]: ...
    def run_batch(self, key: Any, items: list[Any]) -> Sequence[Any]: ...
    def respond(
        self, items: Sequence[tuple[Any, int]], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]: ...
    def generated(self, outputs: Sequence[Any]) -> int: ...
    def attention_key(self, target: str | None) -> Hashable: ...
    def prepare_attention(
        self, text: str, target: str | None, key: Any, truncate: bool = False
    ) -> list[tuple[Any, int]]: ...
    def explain(self, item: Any, output: Any) -> dict[str, Any]: ...
    def warmup(self) -> None: ...
    def lane(self) -> Lane | None: ...  # None: this model runs in static batches only
    @property
    def precision(self) -> str: ...
    @property
    def provider(self) -> str: ...


class Lane(Protocol):
    """The engine side of continuous batching (``service/engine/continuous.py``): one
    running batch that items join and leave between decoder steps, driven from one worker
    thread. ``advance`` takes the items joining now (id, item, key) and the ids leaving
    (their clients went away, their deadline passed), runs one step — and more while none
    has finished and ``more()`` says nothing waits for a turn — and returns the (id,
    output) of every item that finished."""

    def can_admit(self) -> bool: ...
    def advance(
        self,
        joining: Sequence[tuple[int, Any, Any]],
        leaving: Sequence[int],
        more: Callable[[], bool] = lambda: False,
    ) -> list[tuple[int, Any]]: ...


class InputError(ValueError):
    """A request the model cannot take as sent; the message says what to change."""


def check_length(i: int, n: int, limit: int, truncate: bool, count: int) -> None:
    if n > limit and not truncate:
        which = f"text {i}" if count > 1 else "the text"
        raise InputError(
            f"{which} is {n} tokens long; this model takes at most {limit}. "
            'Shorten it, split it, or send "truncate": true to cut it to the limit'
        )


def rounded(a: np.ndarray, digits: int = 5) -> Any:
    """An array as nested lists of floats rounded for JSON."""
    return np.round(a.astype(np.float64), digits).tolist()


def maps(kind: str, layers: np.ndarray) -> list[dict[str, Any]]:
    """One attention map per layer of ``layers`` (L, ...) as /v1/attention sends them; the
    weights stay arrays (rounded as they are encoded: ``service/api/encode.py``)."""
    return [{"layer": i, "kind": kind, "weights": w} for i, w in enumerate(layers)]
