"""The batcher with a fake engine: closing rules, grouping, deadlines, cancellation,
overload, engine errors and shutdown. Every future must be resolved on every path."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from service.engine.batcher import Batcher, Limits
from service.engine.outcomes import DeadlineExceeded, Done, EngineError, QueueFull, ShuttingDown
from tests.support.wait import until

pytestmark = pytest.mark.anyio
LONG = 60.0  # a max wait that never fires within a test


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeEngine:
    """Records each batch; can be held (to let a queue build up) or told to fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.keys: list[object] = []  # the key each batch was run with
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None
        self.short_by = 0
        self.calls = 0  # batches that reached the engine (held or not)

    def __call__(self, key: object, items: list[str]) -> Sequence[str]:
        self.calls += 1
        self.gate.wait(10)
        self.batches.append(list(items))
        self.keys.append(key)
        if self.fail_on in items:
            raise RuntimeError("boom")
        return [s.upper() for s in items][: len(items) - self.short_by]


class Recorder:
    def __init__(self) -> None:
        self.drops: dict[str, int] = {}
        self.sizes: list[int] = []
        self.padded: list[int] = []

    def batch(self, size: int, tokens: int, padded: int, seconds: float, ok: bool) -> None:
        self.sizes.append(size)
        self.padded.append(padded)

    def queued(self, seconds: float) -> None:
        pass

    def dropped(self, reason: str, count: int) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + count

    def depth(self, items: int) -> None:
        pass


def make(engine: FakeEngine, **limits: float) -> tuple[Batcher[str, str], Recorder]:
    rec = Recorder()
    b: Batcher[str, str] = Batcher(engine, Limits(**limits), observer=rec)  # type: ignore[arg-type]
    b.start()
    return b, rec


async def settle(futures: Sequence[asyncio.Future[Done[str]]]) -> list[object]:
    return list(await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10))


async def test_a_batch_closes_at_max_batch_size_without_waiting() -> None:
    engine = FakeEngine()
    b, rec = make(engine, max_batch_size=4, max_wait_s=LONG)
    started = time.monotonic()
    futures = b.submit([(f"t{i}", 3) for i in range(8)])
    results = await settle(futures)
    assert time.monotonic() - started < LONG / 2
    assert rec.sizes == [4, 4]
    assert [r.output for r in results] == [f"T{i}" for i in range(8)]  # type: ignore[attr-defined]
    await b.close(1)


async def test_a_batch_closes_at_max_padded_tokens() -> None:
    engine = FakeEngine()
    b, rec = make(engine, max_batch_size=100, max_batch_tokens=40, max_wait_s=LONG)
    await settle(b.submit([(f"t{i}", 10) for i in range(8)]))
    assert rec.sizes == [4, 4] and rec.padded == [40, 40]
    await b.close(1)


async def test_an_item_over_the_token_budget_runs_alone_and_does_not_stall() -> None:
    engine = FakeEngine()
    b, rec = make(engine, max_batch_size=8, max_batch_tokens=100, max_wait_s=0.05)
    results = await settle(b.submit([("huge", 500), ("small", 10)]))
    assert all(isinstance(r, Done) for r in results)
    assert sorted(rec.padded) == [10, 500]
    assert sorted(map(sorted, engine.batches)) == [["huge"], ["small"]]
    await b.close(1)


async def test_a_batch_closes_at_max_wait_when_not_full() -> None:
    engine = FakeEngine()
    b, rec = make(engine, max_batch_size=32, max_wait_s=0.05)
    started = time.monotonic()
    results = await settle(b.submit([("a", 2), ("b", 2)]))
    waited = time.monotonic() - started
    assert rec.sizes == [2]
    assert 0.04 <= waited < 5
    assert all(isinstance(r, Done) and r.batch_size == 2 for r in results)
    await b.close(1)


async def test_items_are_grouped_by_length_and_the_oldest_goes_first() -> None:
    engine = FakeEngine()
    engine.gate.clear()  # hold the first batch so that the rest queue up together
    b, _ = make(engine, max_batch_size=3, max_batch_tokens=10_000, max_wait_s=0)
    first = b.submit([("first", 1)])
    await until(lambda: engine.calls == 1, what="the first batch reached the engine")
    lengths = {"l1": 50, "s1": 2, "l2": 52, "s2": 3, "l3": 51, "s3": 2}
    rest = b.submit(list(lengths.items()))
    engine.gate.set()
    await settle(first + rest)
    assert engine.batches[0] == ["first"]
    grouped = [sorted(batch) for batch in engine.batches[1:]]
    assert grouped == [["l1", "l2", "l3"], ["s1", "s2", "s3"]]  # l1 is older than s1
    await b.close(1)


async def test_items_with_different_keys_never_share_a_batch_and_the_engine_gets_it() -> None:
    engine = FakeEngine()
    b, _ = make(engine, max_batch_size=8, max_wait_s=0.01)
    f1 = b.submit([("a", 1), ("b", 1)], key="beam4")
    f2 = b.submit([("c", 1), ("d", 1)], key="beam1")
    await settle(f1 + f2)
    ran = sorted(zip(map(sorted, engine.batches), engine.keys, strict=True))
    assert ran == [(["a", "b"], "beam4"), (["c", "d"], "beam1")]
    await b.close(1)


async def test_an_expired_request_is_not_run() -> None:
    engine = FakeEngine()
    engine.gate.clear()
    b, rec = make(engine, max_batch_size=1, max_wait_s=0)
    busy = b.submit([("busy", 1)])
    await until(lambda: engine.calls == 1, what="the first batch reached the engine")
    late = b.submit([("late", 1)], deadline=time.monotonic() + 0.05)
    (outcome,) = await settle(late)  # resolved while the engine is still held
    assert isinstance(outcome, DeadlineExceeded)
    engine.gate.set()
    await settle(busy)
    assert engine.batches == [["busy"]]
    assert rec.drops == {"deadline": 1}
    await b.close(1)


async def test_a_cancelled_request_is_dropped_before_it_runs() -> None:
    engine = FakeEngine()
    engine.gate.clear()
    b, rec = make(engine, max_batch_size=1, max_wait_s=0)
    busy = b.submit([("busy", 1)])
    await until(lambda: engine.calls == 1, what="the first batch reached the engine")
    gone, kept = b.submit([("gone", 1)]), b.submit([("kept", 1)])
    gone[0].cancel()  # the client disconnected
    engine.gate.set()
    await settle(busy + kept)
    assert ["gone"] not in engine.batches and ["kept"] in engine.batches
    assert rec.drops == {"cancelled": 1}
    await b.close(1)


async def test_a_full_queue_rejects_at_once_all_or_nothing() -> None:
    engine = FakeEngine()
    engine.gate.clear()
    b, rec = make(engine, max_batch_size=1, max_wait_s=0, max_queue=3)
    running = b.submit([("run", 1)])
    await until(lambda: engine.calls == 1, what="the first batch reached the engine")
    queued = b.submit([("q1", 1), ("q2", 1)])
    with pytest.raises(QueueFull, match="2 of 3"):
        b.submit([("x", 1), ("y", 1)])
    assert b.depth == 2  # nothing of the refused request was queued
    engine.gate.set()
    assert all(isinstance(r, Done) for r in await settle(running + queued))
    assert rec.drops == {"queue_full": 2}
    await b.close(1)


async def test_an_engine_error_fails_only_its_batch() -> None:
    engine = FakeEngine()
    engine.fail_on = "bad"
    b, _ = make(engine, max_batch_size=2, max_wait_s=LONG)
    failed = await settle(b.submit([("bad", 1), ("x", 1)]))
    assert all(isinstance(r, EngineError) and "boom" in str(r) for r in failed)
    ok = await settle(b.submit([("y", 1), ("z", 1)]))
    assert [r.output for r in ok] == ["Y", "Z"]  # type: ignore[attr-defined]
    await b.close(1)


async def test_one_output_per_input_is_checked() -> None:
    engine = FakeEngine()
    engine.short_by = 1
    b, _ = make(engine, max_batch_size=2, max_wait_s=LONG)
    results = await settle(b.submit([("a", 1), ("b", 1)]))
    assert all(isinstance(r, EngineError) and "1 outputs for 2 inputs" in str(r) for r in results)
    await b.close(1)


async def test_shutdown_drains_queued_work_then_refuses() -> None:
    engine = FakeEngine()
    engine.gate.clear()
    b, _ = make(engine, max_batch_size=2, max_wait_s=0)
    futures = b.submit([(f"t{i}", 1) for i in range(5)])
    closing = asyncio.ensure_future(b.close(5))
    await until(lambda: b._closing, what="the batcher began to close")
    with pytest.raises(ShuttingDown):
        b.submit([("late", 1)])
    engine.gate.set()
    await closing
    assert [r.output for r in await settle(futures)] == [f"T{i}" for i in range(5)]  # type: ignore[attr-defined]


async def test_shutdown_past_its_grace_resolves_every_future() -> None:
    engine = FakeEngine()
    engine.gate.clear()  # the engine never finishes within the grace period
    b, _ = make(engine, max_batch_size=1, max_wait_s=0)
    futures = b.submit([(f"t{i}", 1) for i in range(3)])
    await b.close(0.05)
    results = await settle(futures)
    assert all(isinstance(r, ShuttingDown) for r in results)  # the running one too
    assert "while this ran" in str(results[0]) and "before this ran" in str(results[2])
    engine.gate.set()


async def test_two_workers_run_two_batches_at_once() -> None:
    engine = FakeEngine()
    running = threading.Semaphore(0)
    release = threading.Event()

    def slow(key: object, items: list[str]) -> Sequence[str]:
        running.release()
        release.wait(10)
        return engine(key, items)

    rec = Recorder()
    b: Batcher[str, str] = Batcher(slow, Limits(max_batch_size=1, workers=2), observer=rec)
    b.start()
    futures = b.submit([("a", 1), ("b", 1), ("c", 1)])
    # two batches start before either finishes; the third waits for a free worker
    assert await asyncio.to_thread(running.acquire, True, 5)
    assert await asyncio.to_thread(running.acquire, True, 5)
    assert not await asyncio.to_thread(running.acquire, True, 0.2)
    release.set()
    results = await settle(futures)
    assert [r.output for r in results] == ["A", "B", "C"]  # type: ignore[attr-defined]
    await b.close(1)


async def test_padding_cap_keeps_lengths_together_and_the_oldest_first() -> None:
    engine = FakeEngine()
    engine.gate.clear()  # hold the first batch so the rest queue up together
    b, rec = make(engine, max_batch_size=32, max_padding=1.2)
    first = b.submit([("first", 5)])
    await until(lambda: engine.calls == 1, what="the first batch reached the engine")
    lengths = {"x3": 3, "y3": 3, "z4": 4, "long30": 30, "long32": 32, "oldest10": 10}
    later = b.submit([("oldest10", 10)]) + b.submit(
        [(k, v) for k, v in lengths.items() if k != "oldest10"]
    )
    engine.gate.set()
    await settle(first + later)
    assert engine.batches[1] == ["oldest10"]  # nothing within 1.2× of its length
    assert sorted(map(sorted, engine.batches[2:])) == [["long30", "long32"], ["x3", "y3", "z4"]]
    for batch in engine.batches[1:]:
        sizes = [lengths[name] for name in batch]
        assert len(sizes) * max(sizes) <= 1.2 * sum(sizes)
    assert rec.padded[1:] == [10, 12, 64]  # the oldest's batch first, then the next oldest's
    await b.close(1)


async def test_a_request_that_would_miss_its_deadline_is_refused_at_once() -> None:
    """Admission control: from the measured cost of past batches, work queued ahead that
    would outlast a request's deadline gets it a 429 now (with how long to wait), instead of
    a 504 later. A fake clock makes each batch take 0.1 s per item of cost 10."""
    now = [1000.0]
    engine = FakeEngine()

    def run(key: object, items: list[str]) -> Sequence[str]:
        now[0] += 0.1 * len(items)
        return engine(key, items)

    rec = Recorder()
    b: Batcher[str, str] = Batcher(
        run, Limits(max_batch_size=4), observer=rec, clock=lambda: now[0]
    )
    b.start()
    assert b.expected_wait_s() == 0.0
    await settle(b.submit([("warm", 10)], deadline=now[0] + 1))  # measured: 0.01 s per cost
    engine.gate.clear()  # hold the engine: a queue builds up
    held = b.submit([("running", 10)], deadline=now[0] + 100)
    await until(lambda: b.depth == 0, what="the held item was taken into a batch")
    queued = b.submit([(f"q{i}", 10) for i in range(20)], deadline=now[0] + 100)
    assert b.expected_wait_s() == pytest.approx(2.0)  # 20 items × 10 × 0.01 s
    with pytest.raises(QueueFull, match=r"about 2\.0 s of work is queued ahead") as refused:
        b.submit([("late", 10)], deadline=now[0] + 1.5)
    assert refused.value.retry_after_s == pytest.approx(2.0)
    assert rec.drops == {"overloaded": 1}
    accepted = b.submit([("patient", 10)], deadline=now[0] + 10)  # 3 × 2.1 s fits
    assert b.submit([("no deadline", 10)])  # without a deadline only the queue bound applies
    engine.gate.set()
    results = await settle([*held, *queued, *accepted])
    assert all(isinstance(r, Done) for r in results)
    await b.close(1)
