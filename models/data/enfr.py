"""The default English->French corpus: human translations in gettext catalogs.

A pair counts when its entry is current, not fuzzy, translated, and its English has
letters. White space is normalised, menu accelerators stripped, pairs whose two sides
are equal dropped, duplicates removed across sources, and pairs whose placeholders
differ between the sides dropped (a translation that loses ``%(name)s`` is a bug, not
an example). The split is by the normalised English with its placeholders masked, so
the same English — or English that differs only in placeholder names — never sits on
both sides of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from core.text.normalize import (
    dedup_key,
    has_letters,
    normalize_whitespace,
    strip_accelerators,
)
from core.text.placeholders import mask, placeholder_counts
from models.data.catalogs import read_pairs
from models.data.sources import ENFR_SOURCES, Source, fetch
from models.data.split import assign

MAX_WORDS = 60  # longer entries are help paragraphs, not sentences: dropped and counted


def clean(text: str) -> str:
    return normalize_whitespace(strip_accelerators(normalize_whitespace(text)))


def build(
    cache: Path, sources: tuple[Source, ...] = ENFR_SOURCES
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    pairs: list[dict[str, str]] = []
    dropped = {
        "no_letters": 0,
        "equal_sides": 0,
        "placeholder_mismatch": 0,
        "too_long": 0,
        "duplicate": 0,
    }
    per_source: list[dict[str, Any]] = []
    for source in sources:
        archive = fetch(source, cache)
        raw = kept = 0
        for pair in read_pairs(archive, source.name):
            raw += 1
            en, fr = clean(pair.source), clean(pair.target)
            if not en or not fr or not has_letters(en):
                dropped["no_letters"] += 1
            elif en == fr:
                dropped["equal_sides"] += 1
            elif placeholder_counts(en) != placeholder_counts(fr):
                dropped["placeholder_mismatch"] += 1
            elif len(en.split()) > MAX_WORDS or len(fr.split()) > 2 * MAX_WORDS:
                dropped["too_long"] += 1
            elif (en, fr) in seen:
                dropped["duplicate"] += 1
            else:
                seen.add((en, fr))
                pairs.append({"source": en, "target": fr, "origin": source.name})
                kept += 1
        per_source.append(
            {
                "package": source.spec,
                "licence": source.licence,
                "archive": archive.name,
                "archive_sha256": sha256_file(archive),
                "entries": raw,
                "pairs_kept": kept,
            }
        )
    pairs.sort(key=lambda p: (p["source"], p["target"]))
    # Group by what the model sees: "%(male_name)s died" and "%(female_name)s died" mask to
    # the same input, so they must land on the same side.
    splits = assign(pairs, lambda p: dedup_key(mask(p["source"]).text), "en-fr")
    rows = {
        name: [{"source": p["source"], "target": p["target"]} for p in items]
        for name, items in splits.items()
    }
    stats: dict[str, Any] = {
        "dropped": dropped,
        "max_english_words": MAX_WORDS,
        "with_placeholders": {
            name: sum(bool(placeholder_counts(r["source"])) for r in items)
            for name, items in rows.items()
        },
        "sources": per_source,
    }
    return rows, stats
