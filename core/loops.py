"""The loop guard: what both decoders skip when they read a step's candidates, so that a
translation cannot fall into a loop the token-level guard (``core.decoding.repeat_bars``)
cannot see:

* a letter run: one ASCII letter four or more times in a row in the output's bytes
  ("Gspellll", "PROGRAMMMMING"), even when the letters come from different tokens;
* a span loop: a span of 1 to ``LONGEST_SPAN`` tokens that already stands twice back to
  back may not start a third time ("d'un fichier de bloc d'un fichier de bloc d'un …");

unless the source itself holds that very run (the letters "aaaa", or all the copies of
the span and the token: a source with eleven " ." may be followed by eleven, not twelve).
A placeholder's sentinel and EOS are never skipped: the placeholder rule says how often
sentinels come, and ending is always a way out of a loop.

Unlike ``repeat_bars``, which bars at most one token per span length in a row, a letter
run can bar any number of tokens (every token that starts with an "l" after "lll"), so
it cannot be applied to whole rows of the vocabulary and still be read from a row's best
tokens only. It is therefore a rule of the reading: a source reads ``reads(beam)``
candidates (``4·beam`` with the guard, ``2·beam`` without) in order and skips those that
loop. Both decoders read the same candidates, so they skip the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence

from core.decoding import holds
from core.text.tokenizer import EOS_ID, SENTINEL_IDS

LETTER_RUN = 4  # one ASCII letter this many times in a row is a loop
LONGEST_SPAN = 16  # spans of 1..LONGEST_SPAN tokens may stand at most twice back to back
_RUN = re.compile(rb"([A-Za-z])\1{%d,}" % (LETTER_RUN - 1))
_BREAK = b"\x00"  # what a special or a sentinel stands for in the output's bytes
FREE = frozenset({EOS_ID, *SENTINEL_IDS})  # never skipped


def reads(beam: int, loops: bool) -> int:
    """How many of a source's best candidates a step reads: ``2·beam`` (enough for
    ``beam`` to go on after ``beam`` have ended), twice that under the loop guard, which
    may skip some."""
    return 4 * beam if loops else 2 * beam


class LoopGuard:
    """The guard for one vocabulary: ``surfaces[i]`` is token i's bytes in the output
    (``SubwordTokenizer.surfaces``); EOS and the sentinels are never skipped."""

    def __init__(self, surfaces: Sequence[bytes], free: Container[int] = FREE) -> None:
        self.surfaces = tuple(s or _BREAK for s in surfaces)
        self.free = free

    def for_source(self, source: Sequence[int]) -> SourceLoops:
        return SourceLoops(self, tuple(int(t) for t in source))


class SourceLoops:
    """The guard for one source (its ids, EOS included): ``loops`` says whether a
    candidate token after a hypothesis's history is skipped."""

    def __init__(self, guard: LoopGuard, source: tuple[int, ...]) -> None:
        self._guard = guard
        self.source = source
        self._text = b"".join(guard.surfaces[t] for t in source)

    def loops(self, history: Sequence[int], token: int) -> bool:
        if token in self._guard.free:
            return False
        return self._letter_run(history, token) or self._span_loop(history, token)

    def _letter_run(self, history: Sequence[int], token: int) -> bool:
        surfaces = self._guard.surfaces
        new = surfaces[token]
        if not _RUN.search(b"".join(surfaces[t] for t in history[-LETTER_RUN:]) + new):
            return False  # the common case, decided on the last few tokens
        tail = _trailing_run(history, surfaces)
        text = tail + new
        return any(
            m.end() > len(tail) and m.group(0) not in self._text for m in _RUN.finditer(text)
        )

    def _span_loop(self, history: Sequence[int], token: int) -> bool:
        size = len(history)
        for n in range(1, min(LONGEST_SPAN, size // 2) + 1):
            if history[size - n] != token:
                continue  # the token would not start another copy of this span
            span = list(history[size - n :])
            if span != list(history[size - 2 * n : size - n]):
                continue
            copies = 2
            while (
                size >= (copies + 1) * n
                and list(history[size - (copies + 1) * n : size - copies * n]) == span
            ):
                copies += 1
            if not holds(self.source, [*span * copies, token]):
                return True
        return False


def _trailing_run(history: Sequence[int], surfaces: Sequence[bytes]) -> bytes:
    """The bytes of ``history``'s output from where its last run of one byte begins."""
    last, count = -1, 0
    for t in reversed(history):
        s = surfaces[t]
        for b in reversed(s):
            if last == -1:
                last = b
            if b != last:
                return bytes([last]) * count
            count += 1
    return bytes([last]) * count if count else b""
