"""Cleaning of raw strings, for corpora and for requests alike."""

from __future__ import annotations

import re
import unicodedata

from core.text.placeholders import PLACEHOLDER_RE

_WS_RE = re.compile(r"\s+")
# A menu accelerator marks the key letter of a menu entry: "_File", "&Open", "~Save".
# It stands at the start of a word (not inside "R&D" or "snake_case") before a letter.
_ACCEL_RE = re.compile(r"(?<![\w&_~])[_&~](?=[^\W\d_])")
_LETTER_RE = re.compile(r"[^\W\d_]")


def normalize_whitespace(text: str) -> str:
    """NFC, every run of white space (newlines, tabs, NBSP) to one space, trimmed."""
    return _WS_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def strip_accelerators(text: str) -> str:
    """Remove menu accelerators outside placeholders ("_Edit" -> "Edit", "&Open" -> "Open")."""
    out: list[str] = []
    last = 0
    for m in PLACEHOLDER_RE.finditer(text):
        out.append(_ACCEL_RE.sub("", text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_ACCEL_RE.sub("", text[last:]))
    return "".join(out)


def has_letters(text: str) -> bool:
    """True when ``text`` has a letter outside its placeholders ("%s: %d" has none)."""
    return _LETTER_RE.search(PLACEHOLDER_RE.sub(" ", text)) is not None


def dedup_key(text: str) -> str:
    """Key under which two strings count as the same: case, accents of quoting,
    punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return text.strip()
