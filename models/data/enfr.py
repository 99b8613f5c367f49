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
from models.data.debian import deb_version
from models.data.sources import ENFR_ALL, HELD_OUT, AnySource, fetch
from models.data.split import assign

MAX_WORDS = 60  # longer entries are help paragraphs, not sentences: dropped and counted


def clean(text: str) -> str:
    return normalize_whitespace(strip_accelerators(normalize_whitespace(text)))


def build(
    cache: Path, sources: tuple[AnySource, ...] = ENFR_ALL
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """train/valid/test from every source but the held-out ones, and ``unseen``: the
    held-out catalogs (when ``sources`` has any), whose English never reaches the others."""
    seen: set[tuple[str, str]] = set()
    pairs: list[dict[str, str]] = []
    held: list[dict[str, str]] = []
    dropped = {
        "no_letters": 0,
        "equal_sides": 0,
        "placeholder_mismatch": 0,
        "too_long": 0,
        "duplicate": 0,
        "english_of_a_held_out_catalog": 0,
    }
    per_source: list[dict[str, Any]] = []
    for source in sources:
        archive = fetch(source, cache)
        raw = kept = 0
        for pair in read_pairs(archive, source.name):
            raw += 1
            en, fr = clean(pair.source), clean(pair.target)
            reason = _rejected(en, fr)
            if reason:
                dropped[reason] += 1
            elif (en, fr) in seen:
                dropped["duplicate"] += 1
            else:
                seen.add((en, fr))
                row = {"source": en, "target": fr, "origin": source.name}
                (held if source.name in HELD_OUT else pairs).append(row)
                kept += 1
        per_source.append(
            {
                "package": source.spec,
                **({"version": deb_version(archive)} if archive.suffix == ".deb" else {}),
                "licence": source.licence,
                "archive": archive.name,
                "archive_sha256": sha256_file(archive),
                "entries": raw,
                "pairs_kept": kept,
                "held_out": source.name in HELD_OUT,
            }
        )
    # Group by what the model sees: "%(male_name)s died" and "%(female_name)s died" mask to
    # the same input, so they must land on the same side.
    key = lambda p: dedup_key(mask(p["source"]).text)  # noqa: E731
    held_keys = {key(p) for p in held}
    dropped["english_of_a_held_out_catalog"] = sum(key(p) in held_keys for p in pairs)
    pairs = sorted((p for p in pairs if key(p) not in held_keys), key=_order)
    splits = assign(pairs, key, "en-fr")
    rows = {
        name: [{"source": p["source"], "target": p["target"]} for p in items]
        for name, items in splits.items()
    }
    if held:
        rows["unseen"] = [
            {"source": p["source"], "target": p["target"], "origin": p["origin"]}
            for p in sorted(held, key=_order)
        ]
    stats: dict[str, Any] = {
        "dropped": dropped,
        "max_english_words": MAX_WORDS,
        "held_out": [s.name for s in sources if s.name in HELD_OUT],
        "with_placeholders": {
            name: sum(bool(placeholder_counts(r["source"])) for r in items)
            for name, items in rows.items()
        },
        "sources": per_source,
    }
    return rows, stats


def _order(p: dict[str, str]) -> tuple[str, str]:
    return p["source"], p["target"]


def _rejected(en: str, fr: str) -> str | None:
    """Why a cleaned pair is no example, or None."""
    if not en or not fr or not has_letters(en):
        return "no_letters"
    if en == fr:
        return "equal_sides"
    if placeholder_counts(en) != placeholder_counts(fr):
        return "placeholder_mismatch"
    if len(en.split()) > MAX_WORDS or len(fr.split()) > 2 * MAX_WORDS:
        return "too_long"
    return None
