"""What becomes of a queued item — done (with its timings), refused before it ran (with a
reason that is a metric label), or failed with its batch — and the observer told of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

Out = TypeVar("Out")  # one output per item


class Rejected(Exception):
    """An item that was not run; ``reason`` is a metric label."""

    reason = "rejected"


class QueueFull(Rejected):
    reason = "queue_full"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WouldMissDeadline(QueueFull):
    """Admission control: the work queued ahead would outlast this request's deadline, so
    it is refused now (429) rather than queued only to time out (504)."""

    reason = "overloaded"


class ShuttingDown(Rejected):
    reason = "shutting_down"


class DeadlineExceeded(Rejected):
    reason = "deadline"


class EngineError(Exception):
    """The engine failed on a batch; only that batch's items get it."""


@dataclass(frozen=True)
class Done(Generic[Out]):
    output: Out
    queue_s: float  # submitted → batch started
    compute_s: float  # the batch's run time
    batch_size: int


class Observer(Protocol):
    def batch(self, size: int, tokens: int, padded: int, seconds: float, ok: bool) -> None: ...
    def queued(self, seconds: float) -> None: ...
    def dropped(self, reason: str, count: int) -> None: ...
    def depth(self, items: int) -> None: ...


class Silent:
    """An observer that is told nothing (tests, tools)."""

    def batch(self, size: int, tokens: int, padded: int, seconds: float, ok: bool) -> None:
        pass

    def queued(self, seconds: float) -> None:
        pass

    def dropped(self, reason: str, count: int) -> None:
        pass

    def depth(self, items: int) -> None:
        pass
