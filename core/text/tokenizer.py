"""Subword tokenizer: a byte-level BPE from Hugging Face ``tokenizers``, saved as
``tokenizer.json`` beside each model, plus placeholder masking.

Byte-level BPE round-trips any Unicode string exactly (accents, apostrophes, casing,
emoji), which is what a serving system needs. Placeholders are masked into sentinel
tokens (see :mod:`core.text.placeholders`) that the tokenizer keeps atomic.
The service reuses this module: it must never import torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from core.text.placeholders import SENTINELS, Masked, mask, unmask

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
# Placeholder sentinels follow the specials: <ph0> is id 4, <ph15> id 19.
SENTINEL_IDS = tuple(range(len(SPECIALS), len(SPECIALS) + len(SENTINELS)))


class SubwordTokenizer:
    """Encode/decode text to ids; ``lowercase`` is baked into the saved normaliser."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        for i, special in enumerate(SPECIALS):
            if tokenizer.token_to_id(special) != i:
                raise ValueError(f"tokenizer must map {special!r} to id {i}")
        self.sentinel_ids = tuple(tokenizer.token_to_id(s) for s in SENTINELS)
        if self.sentinel_ids != SENTINEL_IDS:
            raise ValueError(f"tokenizer must map the placeholder sentinels to ids {SENTINEL_IDS}")

    # -- building and loading ----------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        lowercase: bool = False,
        prefix_space: bool = False,
    ) -> SubwordTokenizer:
        """``prefix_space``: a text's first word is read as if a space stood before it, so
        that "Excellent script" and "an excellent script" share the word's token (a
        classifier wants that; a translator, which must give back the text's exact
        spacing, does not)."""
        tok = Tokenizer(models.BPE(unk_token=UNK))
        norms: list[normalizers.Normalizer] = [normalizers.NFC()]
        if lowercase:
            norms.append(normalizers.Lowercase())
        tok.normalizer = normalizers.Sequence(norms)
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=2,
            special_tokens=[*SPECIALS, *SENTINELS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator((mask(t).text for t in texts), trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> SubwordTokenizer:
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer at {path}: train a model first")
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        self._tok.save(str(path))
        return path

    # -- use ------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def encode_masked(self, text: str, spans: tuple[str, ...] = ()) -> tuple[list[int], Masked]:
        """Ids of ``text`` with placeholders masked, and the mask to restore them."""
        masked = mask(text, spans)
        return list(self._tok.encode(masked.text, add_special_tokens=False).ids), masked

    def encode(self, text: str) -> list[int]:
        return self.encode_masked(text)[0]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Batched encoding (the Rust side runs it in parallel); placeholders masked."""
        encs = self._tok.encode_batch([mask(t).text for t in texts], add_special_tokens=False)
        return [list(e.ids) for e in encs]

    def decode(self, ids: Iterable[int], spans: tuple[str, ...] = ()) -> str:
        """Text of ``ids`` (specials dropped, sentinels restored from ``spans``)."""
        keep = [i for i in ids if i > UNK_ID]
        return unmask(self._tok.decode(keep, skip_special_tokens=False), spans)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Readable token strings (for attention displays)."""
        return [self._tok.decode([i], skip_special_tokens=False) for i in ids]

    def surfaces(self) -> list[bytes]:
        """Each token's bytes as they stand in a decoded text, by id (b"" for a special or
        a sentinel): what the loop guard reads (``core.loops``)."""
        table = {ch: b for b, ch in _byte_chars().items()}
        out = [b""] * self.vocab_size
        for token, i in self._tok.get_vocab().items():
            if i > SENTINEL_IDS[-1]:
                out[i] = bytes(table[ch] for ch in token)
        return out

    def iter_vocab(self) -> Iterator[tuple[str, int]]:
        yield from self._tok.get_vocab().items()


def _byte_chars() -> dict[int, str]:
    """The byte-level alphabet (GPT-2's): each byte's printable stand-in character.
    Printable Latin-1 bytes stand for themselves; the others take code points from 256."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    kept += range(ord("®"), ord("ÿ") + 1)
    out = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out
