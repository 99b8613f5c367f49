"""The translator's handler: sources → token ids with their placeholders masked → beam
search over the encoder and decoder-step graphs; a teacher-forced pass for attention maps.

Its batch keys: a ``Decoding`` (search), ``FORCED`` (every attention map of a given
target) and ``Aligned`` (search, then the forced pass over what it generated)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.decoding import Decoding, Hypothesis
from core.text.inputs import translator_source
from core.text.placeholders import Masked
from core.text.segment import Piece, frame, sentences
from core.text.tokenizer import EOS_ID
from runtime.beamset import BeamSet
from runtime.translator import Translation, TranslatorRuntime
from service.engine.handlers import segments
from service.engine.handlers.base import InputError, check_length, maps, rounded
from service.engine.stream import Stream

if TYPE_CHECKING:
    from service.engine.handlers.translate_lane import TranslateLane


@dataclass(frozen=True)
class Forced:
    """The key of a teacher-forced pass over each item's ``target``."""


FORCED = Forced()


@dataclass(frozen=True)
class Aligned:
    """The key of a search with ``decoding`` followed by the forced pass over its result."""

    decoding: Decoding


Key = Decoding | Forced | Aligned
# the output of a source that left its batch before it finished (its client went away):
# nobody reads it, the batcher only needs one output per item
LEFT = Translation("", float("-inf"), [])


@dataclass(frozen=True)
class TranslateItem:
    ids: list[int]  # source ids, ending in </s>
    masked: Masked
    target: list[int] | None = None  # the forced target (FORCED batches only)
    # a streaming request's channel: what the search agrees on, step by step
    stream: Stream | None = field(default=None, compare=False, repr=False)
    # what of the user's text this source is: the framed piece (its edges go back around
    # the translation), the text's index in the request, and this piece's place in it
    piece: Piece = field(default_factory=lambda: Piece(""))
    text: int = 0
    part: tuple[int, int] = (0, 1)


def _unmask_token(token: str, spans: Sequence[str]) -> str:
    if token.startswith("<ph") and token.endswith(">") and token[3:-1].isdigit():
        i = int(token[3:-1])
        return spans[i] if i < len(spans) else token
    return token


def _gone(item: TranslateItem) -> bool:
    return item.stream is not None and item.stream.gone


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

    def __init__(
        self, runtime: TranslatorRuntime, max_beam: int = 8, max_split_tokens: int = 1024
    ) -> None:
        self.runtime = runtime
        self.max_tokens = runtime.max_len - 1  # one position is the source's </s>
        self.max_beam = max_beam
        self.max_split_tokens = max_split_tokens  # a text translated in pieces, in all
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
        self, texts: Sequence[str], key: Key, truncate: bool = False, split: bool = True
    ) -> list[tuple[TranslateItem, int]]:
        """Each text framed (``core.text.segment``) and, when ``split``, translated sentence
        by sentence; a sentence over the model's limit cut into clauses. Without ``split``
        (the routes that answer one source) a text is one source, and one over the limit is
        refused (422); with ``truncate`` a text over the limit is cut to it instead."""
        items = []
        for i, text in enumerate(texts):
            where = f"text {i}" if len(texts) > 1 else "the text"
            try:
                tok = self.runtime.tokenizer
                whole = frame(text)
                encoded = [(whole, *tok.encode_masked(whole.text))]  # most texts: one piece
                tokens = len(encoded[0][1])
                over = tokens > self.max_tokens
                if split and (not truncate if over else sentences(whole.text) > 1):
                    limit, budget, fits = self.max_tokens, self.max_split_tokens, self.runtime.fits
                    parts = segments.split(text, tokens, fits, limit, budget, where)
                    encoded = [(p, *tok.encode_masked(p.text)) for p in parts]
                for j, (part, ids, masked) in enumerate(encoded):
                    check_length(i, len(ids), self.max_tokens, truncate, len(texts))
                    src = translator_source(ids, self.runtime.max_len)  # core/text/inputs
                    item = TranslateItem(src, masked, piece=part, text=i, part=(j, len(encoded)))
                    # a source row costs beam rows in every decoder step
                    items.append((item, len(src) * _beam_rows(key)))
            except InputError:
                raise
            except ValueError as e:  # e.g. more placeholders than the model has sentinels
                raise InputError(f"text {i}: {e}") from e
        return items

    def run_batch(self, key: Key, items: list[TranslateItem]) -> list[Translation]:
        if isinstance(key, Forced):
            return [self._forced(it.ids, it.target or [], it.masked) for it in items]
        decoding = key.decoding if isinstance(key, Aligned) else key
        streamed = {i: it for i, it in enumerate(items) if it.stream is not None}
        watch = (lambda beams: self.report(beams, streamed)) if streamed else None
        hyps = self.runtime.watched_search([it.ids for it in items], decoding, watch)
        return [
            self._found(key, it, h) if h is not None else LEFT
            for it, h in zip(items, hyps, strict=True)
        ]

    def report(self, beams: BeamSet, streamed: dict[int, TranslateItem]) -> None:
        """After a step: each streamed source hears what its result is now sure to begin
        with; those whose clients went away leave the set before the next step."""
        running = set(beams.keys)
        for i, it in streamed.items():
            if i not in running or _gone(it):
                continue
            assert it.stream is not None
            tokens = beams.agreed(i)
            if len(tokens) > it.stream.sent:
                rows = self._rows(it, tokens, it.stream.sent) if it.stream.attention else None
                it.stream.grow(tokens, rows)
        beams.drop([i for i, it in streamed.items() if i in running and _gone(it)])

    def _rows(self, item: TranslateItem, tokens: list[int], sent: int) -> Any:
        """The cross-attention rows (last layer, heads averaged) of ``tokens[sent:]``, from
        the teacher-forced pass that ``return_alignment`` runs (one decoder call)."""
        forced = self._forced(item.ids, tokens, item.masked).cross_attention
        assert forced is not None
        return forced[-1].mean(0)[sent : len(tokens)]  # (new, S)

    def _found(self, key: Key, item: TranslateItem, hyp: Hypothesis) -> Translation:
        """What a search found for ``item``; after an ``Aligned`` search (or for a stream
        that asked for attention rows) the forced pass's attention maps over it too."""
        text = self.runtime.tokenizer.decode(hyp.tokens, item.masked.spans)
        t = Translation(item.piece.head + text + item.piece.tail, hyp.score, hyp.tokens)
        wants_rows = item.stream is not None and item.stream.attention
        if not isinstance(key, Aligned) and not wants_rows:
            return t
        forced = self._forced(item.ids, t.tokens, item.masked)
        return dataclasses.replace(forced, translation=t.translation, score=t.score)

    def lane(self) -> TranslateLane | None:
        """A running batch that sources join between decoder steps, where the model's
        decoder-step graph lets rows at different steps share a step (per-row positions);
        None for older graphs, which run in static batches."""
        from service.engine.handlers.translate_lane import TranslateLane

        return TranslateLane(self) if self.runtime.ragged else None

    def _forced(self, source: list[int], target: list[int], masked: Masked) -> Translation:
        """Teacher-forced pass over ``target``: every attention map in one step."""
        return self.runtime.attention(source, target, masked)

    def respond(
        self, items: Sequence[tuple[TranslateItem, int]], outputs: Sequence[Translation]
    ) -> list[dict[str, Any]]:
        """Per text: the translation, its length-normalised log-probability, and after
        an ``Aligned`` pass its alignment. A text translated in pieces is their
        translations joined, scored by their mean per token, with each piece in
        ``segments`` (its source, translation, score and alignment)."""
        answers: list[dict[str, Any]] = []
        group: list[tuple[Piece, dict[str, Any], int]] = []
        for (item, _), o in zip(items, outputs, strict=True):
            answer: dict[str, Any] = {
                "translation": o.translation,
                "score": round(float(o.score), 6),
            }
            if o.cross_attention is not None:
                answer["alignment"] = self._alignment(item, o)
            index, count = item.part
            if count == 1:
                answers.append(answer)
                continue
            group.append((item.piece, answer, len(o.tokens) + 1))  # EOS counts in the score
            if index == count - 1:
                answers.append(segments.joined(group))
                group = []
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
        ((item, cost),) = self.prepare([text], key, truncate, split=False)
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
