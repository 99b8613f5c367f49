"""Users' own data: classification from CSV/TSV/JSONL or an aclImdb-style folder,
translation from TSV/JSONL. Every error names the file, the line and what to change."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

TEXT_KEYS = ("text", "sentence", "review")
LABEL_KEYS = ("label", "sentiment", "class")
SOURCE_KEYS = ("source", "src", "en")
TARGET_KEYS = ("target", "tgt", "fr")


class DataError(ValueError):
    """A user's data file that cannot be used; the message says where and why."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def _pick(keys: tuple[str, ...], available: list[str], path: Path, what: str) -> str:
    for key in keys:
        if key in available:
            return key
    raise DataError(
        path, 1, f"no {what} column; expected one of {list(keys)}, found {available or 'none'}"
    )


def _read_text(path: Path) -> str:
    """UTF-8 text (a leading BOM, as Excel writes it, is dropped)."""
    if not path.is_file():
        raise DataError(path, None, "no such file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(path, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from e


def _lines(text: str) -> list[str]:
    """Lines split on newlines only: U+2028 and friends may sit inside a JSON string."""
    return [line.rstrip("\r") for line in text.split("\n")]


def _records(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Rows with their 1-based line numbers, and the column names."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows: list[tuple[int, dict[str, Any]]] = []
        for n, line in enumerate(_lines(text), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(path, n, f"invalid JSON ({e.msg} at column {e.colno})") from e
            if not isinstance(obj, dict):
                raise DataError(
                    path, n, f"expected a JSON object per line, got {type(obj).__name__}"
                )
            rows.append((n, obj))
        columns = sorted({k for _, r in rows for k in r})
        return rows, columns
    if suffix in (".csv", ".tsv"):
        # CSV quotes fields (and may span lines inside quotes); TSV has no quoting at all.
        if suffix == ".tsv":
            reader = csv.DictReader(
                io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE
            )
        else:
            reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = list(reader.fieldnames or [])
        rows = []
        for row in reader:
            if None in row:
                raise DataError(
                    path,
                    reader.line_num,
                    f"more fields than the {len(columns)} columns of the header",
                )
            rows.append((reader.line_num, dict(row)))
        return rows, columns
    raise DataError(path, None, f"unknown format {suffix!r}: use .csv, .tsv or .jsonl")


def _field(row: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = row.get(key)
    if value is None:
        raise DataError(path, line, f"missing {key!r}")
    if not isinstance(value, (str, int)):
        raise DataError(path, line, f"{key!r} must be a string, got {type(value).__name__}")
    value = str(value).strip()
    if not value:
        raise DataError(path, line, f"empty {key!r}")
    return value


def load_classification(path: str | Path) -> list[dict[str, str]]:
    """``[{"text", "label"}]`` from a CSV/TSV/JSONL file or an aclImdb-style folder."""
    path = Path(path)
    if path.is_dir():
        return load_imdb_folder(path)
    rows, columns = _records(path)
    if not rows:
        raise DataError(path, None, "no examples")
    text_key = _pick(TEXT_KEYS, columns, path, "text")
    label_key = _pick(LABEL_KEYS, columns, path, "label")
    return [
        {"text": _field(r, text_key, path, n), "label": _field(r, label_key, path, n)}
        for n, r in rows
    ]


def load_imdb_folder(path: Path) -> list[dict[str, str]]:
    """``<path>/pos/*.txt`` and ``<path>/neg/*.txt`` (give the ``train/`` or ``test/`` folder)."""
    out: list[dict[str, str]] = []
    for folder, label in (("neg", "negative"), ("pos", "positive")):
        sub = path / folder
        if not sub.is_dir():
            raise DataError(
                path, None, f"aclImdb layout needs {sub}/ with one review per .txt file"
            )
        for file in sorted(sub.glob("*.txt")):
            text = _read_text(file).replace("<br />", " ").strip()
            if not text:
                raise DataError(file, None, "empty review")
            out.append({"text": text, "label": label})
    if not out:
        raise DataError(path, None, "no .txt reviews under pos/ or neg/")
    return out


def load_translation(path: str | Path) -> list[dict[str, str]]:
    """``[{"source", "target"}]`` from TSV (with or without header) or JSONL."""
    path = Path(path)
    if path.suffix.lower() == ".tsv":
        text = _read_text(path)
        if not (set(_lines(text)[0].split("\t")) & set(SOURCE_KEYS)):
            return _headerless_tsv(path, text)
    rows, columns = _records(path)
    if not rows:
        raise DataError(path, None, "no pairs")
    src = _pick(SOURCE_KEYS, columns, path, "source")
    tgt = _pick(TARGET_KEYS, columns, path, "target")
    return [{"source": _field(r, src, path, n), "target": _field(r, tgt, path, n)} for n, r in rows]


def _headerless_tsv(path: Path, text: str) -> list[dict[str, str]]:
    out = []
    for n, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(
                path, n, f"expected 2 tab-separated fields (source, target), got {len(parts)}"
            )
        src, tgt = parts[0].strip(), parts[1].strip()
        if not src or not tgt:
            raise DataError(path, n, "empty source or target")
        out.append({"source": src, "target": tgt})
    if not out:
        raise DataError(path, None, "no pairs")
    return out
