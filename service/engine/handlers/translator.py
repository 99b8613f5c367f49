"""The translator's handler: sources → token ids with their placeholders masked → beam
search over the encoder and decoder-step graphs; forced targets for attention maps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.decoding import Hypothesis
from core.text.inputs import translator_source
from core.text.placeholders import Masked
from core.text.tokenizer import EOS_ID
from runtime.translator import Translation, TranslatorRuntime
from service.engine.handlers.base import InputError, check_length


def _unmask_token(token: str, spans: Sequence[str]) -> str:
    if token.startswith("<ph") and token.endswith(">") and token[3:-1].isdigit():
        i = int(token[3:-1])
        return spans[i] if i < len(spans) else token
    return token


@dataclass(frozen=True)
class Decoding:
    """Options that must be equal within a batch (the batcher's grouping key)."""

    beam_size: int
    max_length: int
    length_penalty: float


@dataclass(frozen=True)
class TranslateItem:
    ids: list[int]  # source ids, ending in </s>
    masked: Masked
    decoding: Decoding
    target: list[int] | None = None  # set for attention requests: a forced target


class TranslatorHandler:
    task = "translation"

    def __init__(self, runtime: TranslatorRuntime, max_beam: int = 8) -> None:
        self.runtime = runtime
        self.max_tokens = runtime.max_len - 1  # one position is the source's </s>
        self.max_beam = max_beam
        self.defaults = Decoding(
            int(runtime.decoding["beam_size"]),
            int(runtime.decoding["max_length"]),
            float(runtime.decoding["length_penalty"]),
        )

    def decoding(self, **options: Any) -> Decoding:
        beam = options.get("beam_size")
        beam = self.defaults.beam_size if beam is None else beam
        length = options.get("max_length")
        length = self.defaults.max_length if length is None else length
        penalty = options.get("length_penalty")
        penalty = self.defaults.length_penalty if penalty is None else penalty
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
        return Decoding(beam, length, float(penalty))

    def prepare(
        self, texts: Sequence[str], decoding: Decoding, truncate: bool = False
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
            items.append((TranslateItem(src, masked, decoding), len(src) * decoding.beam_size))
        return items

    def prepare_forced(self, text: str, target: str, truncate: bool = False) -> TranslateItem:
        item = self.prepare([text], self.defaults, truncate)[0][0]
        tgt, _ = self.runtime.tokenizer.encode_masked(target, item.masked.spans)
        check_length(0, len(tgt), self.max_tokens, truncate, 1)
        return TranslateItem(item.ids, item.masked, item.decoding, tgt[: self.max_tokens])

    def run_batch(self, items: list[TranslateItem]) -> list[Translation]:
        if items[0].target is not None:
            return [self._forced(it) for it in items]
        d = items[0].decoding
        hyps: list[Hypothesis] = self.runtime.search(
            [it.ids for it in items],
            beam_size=d.beam_size,
            max_length=d.max_length,
            length_penalty=d.length_penalty,
        )
        tok = self.runtime.tokenizer
        return [
            Translation(tok.decode(h.tokens, it.masked.spans), h.score, h.tokens)
            for it, h in zip(items, hyps, strict=True)
        ]

    def respond(self, outputs: Sequence[Translation]) -> list[dict[str, Any]]:
        """Per source: the translation and its length-normalised log-probability."""
        return [{"translation": o.translation, "score": round(float(o.score), 6)} for o in outputs]

    def _forced(self, item: TranslateItem) -> Translation:
        """Teacher-forced pass over ``item.target``: every attention map in one step."""
        assert item.target is not None
        return self.runtime.attention(item.ids, item.target, item.masked)

    def forced(self, item: TranslateItem, target: list[int]) -> TranslateItem:
        """The same source with ``target`` forced (for alignments of a generated one)."""
        return TranslateItem(item.ids, item.masked, item.decoding, target)

    def tokens(self, ids: Sequence[int], spans: Sequence[str] = ()) -> list[str]:
        """Readable tokens, placeholders shown as the spans they stand for."""
        out = self.runtime.tokenizer.tokens(ids)
        return [_unmask_token(t, spans) for t in out]

    def warmup(self) -> None:
        src = [5, 6, EOS_ID]
        item = TranslateItem(src, Masked("", ()), Decoding(2, 4, 1.0))
        self.run_batch([item])
        self.run_batch([TranslateItem(src, Masked("", ()), item.decoding, [5, 6])])

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def provider(self) -> str:
        return str(self.runtime.decoder.get_providers()[0])
