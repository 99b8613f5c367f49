"""The translator's handler: sources → token ids with their placeholders masked → beam
search over the encoder and decoder-step graphs; a teacher-forced pass for attention maps.

Its batch keys: a ``Decoding`` (search), ``FORCED`` (every attention map of a given
target) and ``Aligned`` (search, then the forced pass over what it generated)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from core.decoding import Decoding, Hypothesis
from core.text.inputs import translator_source
from core.text.placeholders import Masked
from core.text.tokenizer import EOS_ID
from runtime.beamset import BeamSet
from runtime.translator import Translation, TranslatorRuntime
from service.engine.handlers.base import InputError, check_length, maps, rounded


@dataclass(frozen=True)
class Forced:
    """The key of a teacher-forced pass over each item's ``target``."""


FORCED = Forced()


@dataclass(frozen=True)
class Aligned:
    """The key of a search with ``decoding`` followed by the forced pass over its result."""

    decoding: Decoding


Key = Decoding | Forced | Aligned


@dataclass(frozen=True)
class TranslateItem:
    ids: list[int]  # source ids, ending in </s>
    masked: Masked
    target: list[int] | None = None  # the forced target (FORCED batches only)


def _unmask_token(token: str, spans: Sequence[str]) -> str:
    if token.startswith("<ph") and token.endswith(">") and token[3:-1].isdigit():
        i = int(token[3:-1])
        return spans[i] if i < len(spans) else token
    return token


def _beam_rows(key: Key) -> int:
    """Decoder rows one source occupies in a batch of ``key``."""
    if isinstance(key, Aligned):
        return key.decoding.beam_size
    return key.beam_size if isinstance(key, Decoding) else 1


class TranslatorHandler:
    task = "translation"
    option_names: tuple[str, ...] = (
        "beam_size",
        "max_length",
        "length_penalty",
        "return_alignment",
    )

    def __init__(self, runtime: TranslatorRuntime, max_beam: int = 8) -> None:
        self.runtime = runtime
        self.max_tokens = runtime.max_len - 1  # one position is the source's </s>
        self.max_beam = max_beam
        self.defaults: Decoding = runtime.decoding

    def options(self, **options: Any) -> Decoding | Aligned:
        """The request's decoding options (``option_names``; None keeps the model's
        default) over the model's defaults, each checked; ``Aligned`` when the alignment
        of each translation is asked for too."""
        align = options.pop("return_alignment", None)
        try:
            d = self.defaults.but(**options)
        except ValueError as e:
            raise InputError(str(e)) from None
        beam, length, penalty = d.beam_size, d.max_length, d.length_penalty
        if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= self.max_beam:
            raise InputError(
                f"beam_size must be an integer from 1 to {self.max_beam}, got {beam!r}"
            )
        top = self.runtime.max_len - 1
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= top:
            raise InputError(f"max_length must be an integer from 1 to {top}, got {length!r}")
        if (
            isinstance(penalty, bool)
            or not isinstance(penalty, int | float)
            or not 0.0 <= penalty <= 4.0
        ):
            raise InputError(f"length_penalty must be a number from 0 to 4, got {penalty!r}")
        d = dataclasses.replace(d, length_penalty=float(penalty))
        return Aligned(d) if align else d

    def prepare(
        self, texts: Sequence[str], key: Key, truncate: bool = False
    ) -> list[tuple[TranslateItem, int]]:
        items = []
        for i, text in enumerate(texts):
            try:
                ids, masked = self.runtime.tokenizer.encode_masked(text)
            except ValueError as e:  # e.g. more placeholders than the model has sentinels
                raise InputError(f"text {i}: {e}") from e
            check_length(i, len(ids), self.max_tokens, truncate, len(texts))
            src = translator_source(ids, self.runtime.max_len)  # the rule of core/text/inputs
            # a source row costs beam rows in every decoder step
            items.append((TranslateItem(src, masked), len(src) * _beam_rows(key)))
        return items

    def run_batch(self, key: Key, items: list[TranslateItem]) -> list[Translation]:
        if isinstance(key, Forced):
            return [self._forced(it.ids, it.target or [], it.masked) for it in items]
        decoding = key.decoding if isinstance(key, Aligned) else key
        hyps = self.runtime.search([it.ids for it in items], decoding)
        return [self._found(key, it, h) for it, h in zip(items, hyps, strict=True)]

    def _found(self, key: Key, item: TranslateItem, hyp: Hypothesis) -> Translation:
        """What a search found for ``item``; after an ``Aligned`` search the forced pass's
        attention maps over it too."""
        t = Translation(
            self.runtime.tokenizer.decode(hyp.tokens, item.masked.spans), hyp.score, hyp.tokens
        )
        if not isinstance(key, Aligned):
            return t
        forced = self._forced(item.ids, t.tokens, item.masked)
        return dataclasses.replace(forced, translation=t.translation, score=t.score)

    def lane(self) -> TranslateLane | None:
        """A running batch that sources join between decoder steps, where the model's
        decoder-step graph lets rows at different steps share a step (per-row positions);
        None for older graphs, which run in static batches."""
        return TranslateLane(self) if self.runtime.ragged else None

    def _forced(self, source: list[int], target: list[int], masked: Masked) -> Translation:
        """Teacher-forced pass over ``target``: every attention map in one step."""
        return self.runtime.attention(source, target, masked)

    def respond(
        self, items: Sequence[tuple[TranslateItem, int]], outputs: Sequence[Translation]
    ) -> list[dict[str, Any]]:
        """Per source: the translation, its length-normalised log-probability, and after
        an ``Aligned`` pass its alignment."""
        answers = []
        for (item, _), o in zip(items, outputs, strict=True):
            answer: dict[str, Any] = {
                "translation": o.translation,
                "score": round(float(o.score), 6),
            }
            if o.cross_attention is not None:
                answer["alignment"] = self._alignment(item, o)
            answers.append(answer)
        return answers

    def generated(self, outputs: Sequence[Translation]) -> int:
        return sum(len(o.tokens) for o in outputs)

    def _alignment(self, item: TranslateItem, output: Translation) -> dict[str, Any]:
        """Which source token each target token attends to: the last layer's
        cross-attention, averaged over heads."""
        assert output.cross_attention is not None
        spans = item.masked.spans
        return {
            "source_tokens": self.tokens(item.ids, spans),
            "target_tokens": [*self.tokens(output.tokens, spans), "</s>"],
            "weights": rounded(output.cross_attention[-1].mean(0)),  # (T+1, S)
        }

    # -- /v1/attention ----------------------------------------------------------
    def attention_key(self, target: str | None) -> Key:
        """A given target is forced; otherwise the default search finds one first."""
        return FORCED if target is not None else Aligned(self.defaults)

    def prepare_attention(
        self, text: str, target: str | None, key: Key, truncate: bool = False
    ) -> list[tuple[TranslateItem, int]]:
        ((item, cost),) = self.prepare([text], key, truncate)
        if target is None:
            return [(item, cost)]
        tgt, _ = self.runtime.tokenizer.encode_masked(target, item.masked.spans)
        check_length(0, len(tgt), self.max_tokens, truncate, 1)
        return [(dataclasses.replace(item, target=tgt[: self.max_tokens]), cost)]

    def explain(self, item: TranslateItem, output: Translation) -> dict[str, Any]:
        """The source and target tokens, the translation and every attention map:
        the encoder's self-attention, the cross-attention and the decoder's own."""
        assert output.encoder_attention is not None and output.cross_attention is not None
        spans = item.masked.spans
        layers = [*maps("self", output.encoder_attention), *maps("cross", output.cross_attention)]
        if output.decoder_attention is not None:
            layers += maps("decoder_self", output.decoder_attention)
        return {
            "tokens": self.tokens(item.ids, spans),
            "target_tokens": [*self.tokens(output.tokens, spans), "</s>"],
            "translation": output.translation,
            "attention": layers,
        }

    def tokens(self, ids: Sequence[int], spans: Sequence[str] = ()) -> list[str]:
        """Readable tokens, placeholders shown as the spans they stand for."""
        out = self.runtime.tokenizer.tokens(ids)
        return [_unmask_token(t, spans) for t in out]

    def warmup(self) -> None:
        src = [5, 6, EOS_ID]
        self.run_batch(Decoding(2, 4, 1.0), [TranslateItem(src, Masked("", ()))])
        self.run_batch(FORCED, [TranslateItem(src, Masked("", ()), [5, 6])])

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def provider(self) -> str:
        return str(self.runtime.decoder.get_providers()[0])


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
            if done or not self._sets or not more():
                return done
