"""Deterministic, leak-free train/valid/test splits.

Every example carries a *group key* (the movie of a review, the normalised English of a
translation pair). The split is decided by a hash of that key alone, so a group never
straddles two splits and the assignment does not depend on order, machine or seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
SPLITS = ("train", "valid", "test")


def split_of(group: str, salt: str, valid: float = 0.1, test: float = 0.1) -> str:
    digest = hashlib.sha256(f"{salt}\x00{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if u < test:
        return "test"
    if u < test + valid:
        return "valid"
    return "train"


def assign(
    items: Iterable[T], group: Callable[[T], str], salt: str, valid: float = 0.1, test: float = 0.1
) -> dict[str, list[T]]:
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    for item in items:
        out[split_of(group(item), salt, valid, test)].append(item)
    return out
