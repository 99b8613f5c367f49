"""The translator's lane for the continuous batcher (``service/engine/continuous.py``):
running sets of beams that sources join and leave between decoder steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from runtime.beamset import BeamSet
from runtime.translator import Translation
from service.engine.handlers.translator import Aligned, Forced, Key, TranslateItem

if TYPE_CHECKING:
    from service.engine.handlers.translator import TranslatorHandler


# A source joins the youngest running set of beams while that set has decoded at most this
# many steps; otherwise it starts a new set. Every row of a set carries the set's longest
# cache, so one set of mixed ages pays the oldest row's cache in every row (a decoder step
# at 64 rows costs 6.4 ms with 5 cache columns, 11.0 ms with 60): offline on the test split
# (256 sources, beam 4, 16 at a time, 1 thread) one rolling set took 7.05 s, static batches
# 4.79 s, sets joined for up to 4 / 8 / 16 steps 5.22 / 4.52 / 5.10 s.
JOIN_COLUMNS = 8


class TranslateLane:
    """Running sets of beams (``runtime.beamset.BeamSet``) for the continuous batcher,
    stepped one after the other on the lane's thread. A search joins the youngest set (or
    starts one, ``JOIN_COLUMNS``) and answers the step it finishes (after its forced pass
    when ``Aligned``); a forced pass (``FORCED``) is one decoder call and answers as it
    joins."""

    def __init__(self, handler: TranslatorHandler) -> None:
        self._handler = handler
        self._sets: list[BeamSet] = []
        self._items: dict[int, tuple[Key, TranslateItem]] = {}

    def can_admit(self) -> bool:
        return True  # into the youngest set, or a new one

    def advance(
        self,
        joining: Sequence[tuple[int, TranslateItem, Key]],
        leaving: Sequence[int],
        more: Callable[[], bool] = lambda: False,
    ) -> list[tuple[int, Translation]]:
        h = self._handler
        for beams in self._sets:
            beams.drop(leaving)
        for i in leaving:
            self._items.pop(i, None)
        done: list[tuple[int, Translation]] = []
        searches = []
        for i, item, key in joining:
            if isinstance(key, Forced):
                done.append((i, h.run_batch(key, [item])[0]))
                continue
            self._items[i] = (key, item)
            searches.append((i, item.ids, key.decoding if isinstance(key, Aligned) else key))
        if searches:
            young = self._sets[-1] if self._sets else None
            if young is None or young.columns > JOIN_COLUMNS or not young.can_admit():
                young = h.runtime.beam_set()
                self._sets.append(young)
            young.admit(searches)
        while True:  # one step of every set, again while none finished and none waits
            for beams in self._sets:
                for finished, hyp in beams.step():
                    i = cast(int, finished)
                    key, item = self._items.pop(i)
                    done.append((i, h._found(key, item, hyp)))
            self._sets = [b for b in self._sets if len(b)]
            streamed = {i: it for i, (_, it) in self._items.items() if it.stream is not None}
            for beams in self._sets if streamed else ():
                h.report(beams, streamed)  # each set's own running sources
            if done or not self._sets or not more():
                return done
