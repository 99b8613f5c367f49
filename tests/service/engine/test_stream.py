"""Streaming a translation from the engine's thread: the channel itself, and the
translator's handler on the committed en-fr model (real ONNX Runtime) reporting what each
streamed source has agreed on while the batch decodes — and dropping a source whose
client went away at the next step, the rest of its batch unchanged."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import numpy as np
import pytest

from core.decoding import Decoding
from runtime.repository import load
from runtime.translator import TranslatorRuntime
from service.engine.handlers import TranslatorHandler
from service.engine.handlers.translator import LEFT
from service.engine.stream import Growth, Stream
from tests.support.server import REPOSITORY

TEXTS = [
    "The file {name} could not be deleted.",
    "Are you sure you want to delete this folder?",
    "Save changes",
    "Downloading %(count)s files...",
]


@pytest.fixture(scope="module")
def handler() -> TranslatorHandler:
    return TranslatorHandler(TranslatorRuntime(load(REPOSITORY, "en-fr")), max_beam=8)


def test_growth_crosses_from_a_worker_thread_in_order_and_only_when_it_grows() -> None:
    async def main() -> list[Growth]:
        stream = Stream(asyncio.get_running_loop())

        def engine() -> None:
            for tokens in ([5], [5], [5, 6, 7], [5, 6], [5, 6, 7, 8]):
                stream.grow(tokens)

        await asyncio.to_thread(engine)
        await asyncio.sleep(0)
        out = []
        while not stream.events.empty():
            out.append(stream.events.get_nowait())
        assert not stream.gone
        stream.leave()
        assert stream.gone
        return out

    got = asyncio.run(main())
    assert [(g.tokens, g.new) for g in got] == [([5], 1), ([5, 6, 7], 2), ([5, 6, 7, 8], 1)]


class _Recorder(Stream):
    """A stream that records what the engine reports, without an event loop."""

    def __init__(self, attention: bool = False, leave_after: int | None = None) -> None:
        self.attention, self.sent, self.got = attention, 0, []
        self._gone = threading.Event()
        self._leave_after = leave_after

    def grow(self, tokens: list[int], attention: np.ndarray | None = None) -> None:
        if len(tokens) > self.sent:
            self.got.append((list(tokens), attention))
            self.sent = len(tokens)
            if self._leave_after is not None and len(self.got) >= self._leave_after:
                self.leave()


@pytest.mark.parametrize("beam", [1, 4])
def test_a_streamed_source_hears_its_result_grow_and_decodes_as_unstreamed(
    handler: TranslatorHandler, beam: int
) -> None:
    key = Decoding(beam, 60, 1.0)
    items = [item for item, _ in handler.prepare(TEXTS, key)]
    plain = handler.run_batch(key, items)
    streams = [_Recorder(attention=i == 1) for i in range(len(items))]
    got = handler.run_batch(
        key, [dataclasses.replace(it, stream=s) for it, s in zip(items, streams, strict=True)]
    )
    assert [g.tokens for g in got] == [p.tokens for p in plain]
    # greedy streams every source; the beams of a short source may agree only at the end
    assert sum(bool(s.got) for s in streams) >= (len(streams) if beam == 1 else 1)
    for s, out in zip(streams, got, strict=True):
        for tokens, _ in s.got:
            assert out.tokens[: len(tokens)] == tokens  # always how the result begins
        if beam == 1:  # greedy: every token, one event each (the last comes with done)
            assert [len(t) for t, _ in s.got] == list(range(1, len(out.tokens) + 1))
    if beam > 1:
        return
    rows = [a for _, a in streams[1].got]
    sent = [len(t) for t, _ in streams[1].got]
    assert all(
        a.shape == (n, len(items[1].ids)) for a, n in zip(rows, np.diff([0, *sent]), strict=True)
    )
    forced = handler.runtime.attention(items[1].ids, got[1].tokens, items[1].masked)
    assert forced.cross_attention is not None
    want = forced.cross_attention[-1].mean(0)[: sent[-1]]
    assert np.allclose(np.concatenate(rows), want, atol=1e-5)  # the alignment's own rows
    assert got[1].cross_attention is not None  # and the final one for the rest


def test_a_source_whose_client_left_leaves_its_batch_at_the_next_step(
    handler: TranslatorHandler,
) -> None:
    key = Decoding(1, 60, 1.0)  # greedy: every token is agreed on, so the client hears it
    items = [item for item, _ in handler.prepare(TEXTS, key)]
    plain = handler.run_batch(key, items)
    rows: list[tuple[int, bool]] = []  # each step's rows, and whether the client had left
    step = handler.runtime._step
    leaving = _Recorder(leave_after=2)

    def counted(*args: np.ndarray, top_k: int):  # type: ignore[no-untyped-def]
        rows.append((len(args[0]), leaving.gone))
        return step(*args, top_k=top_k)

    streamed = [dataclasses.replace(items[0], stream=leaving), *items[1:]]
    handler.runtime._step = counted  # type: ignore[method-assign]
    try:
        got = handler.run_batch(key, streamed)
    finally:
        del handler.runtime._step
    assert got[0] is LEFT and len(leaving.got) == 2
    assert [g.tokens for g in got[1:]] == [p.tokens for p in plain[1:]]
    assert rows[0] == (len(items), False)
    after = next(i for i, (_, gone) in enumerate(rows) if gone)
    assert rows[after][0] <= rows[after - 1][0] - 1  # its row was gone at once
