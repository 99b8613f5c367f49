"""``attnserve data``: build the default corpora into ``data/<corpus>/``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attnserve.hashing import sha256_file
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
