"""What the load tests send: texts from the real test splits, and the task weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MIX = {
    "classify_short": 4,
    "classify_long": 2,
    "translate_greedy": 2,
    "translate_beam": 1,
    "attention": 1,
    "v2_classify": 2,
    "v2_translate": 1,
}
_SYNTHETIC_REVIEWS = [
    "A moving, beautifully acted film.",
    "Dull, and far too long.",
    "Not bad at all.",
    "The plot falls apart in the second half, but the cast carries it.",
    "I laughed, I cried, I would see it again tomorrow.",
    "A tedious mess with no ending.",
]
_SYNTHETIC_SOURCES = [
    "Save changes",
    "The file {name} could not be deleted.",
    "You have %d new messages.",
    "Open the settings",
    "Are you sure you want to quit?",
    "Connection to the server was lost.",
]


def weights(spec: str) -> dict[str, int]:
    """DEFAULT_MIX updated by "name=weight,..."; unknown names are refused."""
    out = dict(DEFAULT_MIX)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        if name not in out or not value.isdigit():
            raise ValueError(f"LOADTEST_MIX: {part!r}; use name=weight with names {sorted(out)}")
        out[name] = int(value)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Corpus:
    short_reviews: list[str]
    long_reviews: list[str]
    sources: list[str]
    synthetic: bool

    @classmethod
    def load(cls, data: Path, limit: int = 5000) -> Corpus:
        sentiment, enfr = data / "sentiment" / "test.jsonl", data / "en-fr" / "test.jsonl"
        if not (sentiment.is_file() and enfr.is_file()):
            long = [" ".join(_SYNTHETIC_REVIEWS * 8)]
            return cls(_SYNTHETIC_REVIEWS, long, _SYNTHETIC_SOURCES, synthetic=True)
        reviews = [row["text"] for row in _rows(sentiment)][:limit]
        sources = [row["source"] for row in _rows(enfr)][:limit]
        reviews.sort(key=len)
        half = len(reviews) // 2
        return cls(reviews[:half], reviews[half:], sources, synthetic=False)
