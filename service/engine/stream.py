"""What a streaming request hears while its source decodes (``POST /v1/translate/stream``).

The engine's thread reports, after each decoder step, the tokens the source's result is
sure to begin with (greedy: every token so far; a beam: the prefix every live beam and
every finished hypothesis share) and, when asked, their cross-attention rows; they cross
to the event loop with ``call_soon_threadsafe`` and queue for the route. The route says
when its client has gone: the engine drops the source at its next step. Events are few
(at most one per decoder step, so at most the request's ``max_length``)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Growth:
    """The tokens agreed so far and the cross-attention rows of the new ones."""

    tokens: list[int]  # the whole agreed prefix (target ids)
    new: int  # how many of them are new in this event
    attention: np.ndarray | None  # (new, S): last layer, heads averaged; None unless asked


class Stream:
    def __init__(self, loop: asyncio.AbstractEventLoop, attention: bool = False) -> None:
        self._loop = loop
        self.attention = attention  # whether each event carries the new tokens' rows
        self.events: asyncio.Queue[Growth] = asyncio.Queue()
        self._gone = threading.Event()
        self.sent = 0  # tokens reported so far (the engine's thread alone writes it)

    # -- the engine's thread --------------------------------------------------------
    def grow(self, tokens: list[int], attention: np.ndarray | None = None) -> None:
        """Report ``tokens`` (the agreed prefix) if it is longer than what was sent."""
        if len(tokens) <= self.sent:
            return
        growth = Growth(list(tokens), len(tokens) - self.sent, attention)
        self.sent = len(tokens)
        self._loop.call_soon_threadsafe(self.events.put_nowait, growth)

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    # -- the route --------------------------------------------------------------------
    def leave(self) -> None:
        """The client has gone (or the route is done): decoding it may stop."""
        self._gone.set()
