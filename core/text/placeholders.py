"""Placeholders that must come out of a translation exactly as they went in.

Software strings carry printf/format placeholders (``%(name)s``, ``%s``, ``{0}``,
``{count}``) and markup (``<b>``, ``</a>``, ``&amp;``). A translator that rewrites
``%(count)d`` into ``%(compte)d`` breaks the program that uses the string, so these
spans are masked into numbered sentinel tokens (``<ph0>``, ``<ph1>``, ...) before
tokenisation and restored afterwards. Identical spans share one sentinel, so a
source with ``%s`` twice needs only ``<ph0>``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

MAX_PLACEHOLDERS = 16
SENTINELS = tuple(f"<ph{i}>" for i in range(MAX_PLACEHOLDERS))

_PATTERNS = [
    r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>",  # HTML/XML tags, with attributes
    r"&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);",  # HTML entities
    r"%\([^()\s]+\)[-#0+]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]",  # %(name)s
    r"(?<!\d)%(?:\d+\$)?[-#0+]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]",  # %s, %d, %1$s, %.2f; not 50%off
    r"\{\{[^{}]*\}\}",  # {{ var }} (templates)
    r"\$\{[^{}]*\}",  # ${var}
    r"\{[A-Za-z0-9_.\[\]]*(?:![rsa])?(?::[^{}]*)?\}",  # {0}, {count}, {x:.2f}, {}
]
PLACEHOLDER_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_SENTINEL_RE = re.compile(r"<ph(\d+)>")


def find_placeholders(text: str) -> list[str]:
    """Every placeholder span in ``text``, in order of appearance (with repeats)."""
    return PLACEHOLDER_RE.findall(text)


def placeholder_counts(text: str) -> Counter[str]:
    return Counter(find_placeholders(text))


@dataclass(frozen=True)
class Masked:
    """``text`` with placeholders replaced by sentinels; ``spans[i]`` is ``<ph{i}>``."""

    text: str
    spans: tuple[str, ...]


def mask(text: str, spans: tuple[str, ...] = ()) -> Masked:
    """Replace placeholders by sentinels.

    ``spans`` pre-assigns sentinels (use the source's spans when masking its target so
    both sides agree); new spans get the next free number. Spans past
    ``MAX_PLACEHOLDERS`` stay as plain text.
    """
    assigned = list(spans)

    def repl(m: re.Match[str]) -> str:
        span = m.group(0)
        if span not in assigned:
            if len(assigned) >= MAX_PLACEHOLDERS:
                return span
            assigned.append(span)
        return SENTINELS[assigned.index(span)]

    return Masked(PLACEHOLDER_RE.sub(repl, text), tuple(assigned))


def unmask(text: str, spans: tuple[str, ...]) -> str:
    """Put the original spans back. A sentinel with no span (the model invented one)
    is dropped rather than leaked to the user."""

    def repl(m: re.Match[str]) -> str:
        i = int(m.group(1))
        return spans[i] if i < len(spans) else ""

    return _SENTINEL_RE.sub(repl, text)


def placeholders_kept(source: str, output: str) -> bool:
    """True when ``output`` has exactly the placeholders of ``source`` (as a multiset)."""
    return placeholder_counts(source) == placeholder_counts(output)
