"""Waiting in tests: on a condition with a deadline, never a fixed sleep and never forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition",
    every: float = 0.01,
) -> T:
    """``predicate()``'s first true value; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:g} s")
        time.sleep(every)
    return value


async def until(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition"
) -> T:
    """The same inside an event loop: checks between turns of the loop."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:g} s")
        await asyncio.sleep(0.001)
    return value
