"""JSON-lines files and the corpus manifest."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.hashing import sha256_file


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def manifest_is_current(folder: Path, recipe: str) -> bool:
    """True when ``folder`` holds a complete corpus built by ``recipe`` whose split
    files still match their recorded sha256 (then a rebuild would do no work)."""
    path = folder / "manifest.json"
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
        splits = manifest["splits"]
        return manifest.get("recipe") == recipe and all(
            (folder / info["file"]).is_file()
            and sha256_file(folder / info["file"]) == info["sha256"]
            for info in splits.values()
        )
    except (KeyError, ValueError, TypeError):
        return False
