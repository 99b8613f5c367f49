"""What a translator is given of a user's text, and how its translation is put back.

Users type around the strings a model knows: emoji and symbols at either end, zero-width
characters, stray white space. ``frame`` peels the edges off (kept verbatim and put back
around the translation), drops zero-width characters inside (a zero-width joiner inside
an emoji sequence stays) and collapses white space: the model sees the plain string.

A text of several sentences is translated sentence by sentence: ``pieces`` splits it at
sentence ends (the models learned from strings of a sentence or two, and given a
paragraph they drop and merge sentences: on the en-fr test split's 528 texts of several
sentences, beam 4, BLEU 29.6 whole and 34.8 split). A sentence over the model's limit is
cut at clause marks (``,;:`` and dashes), then a clause still too long between words;
never inside a placeholder. So a text over the limit is not refused either. Each piece is
framed, and ``join`` puts the translations back with the white space that separated them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.text.placeholders import PLACEHOLDER_RE

# zero-width and invisible format characters users paste in with a string
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u00ad"}
_JOINER = "\u200d"
# kept at the edges: symbols (emoji among them), modifiers, their selectors, spaces
_EDGE_CATEGORIES = {"So", "Sk", "Cf", "Zs", "Zl", "Zp", "Cc", "Co", "Cs"}
_EDGE_EXTRA = {"\ufe0e", "\ufe0f", "\u20e3"}  # variation selectors, the keycap mark
_WS_RE = re.compile(r"\s+")
# A sentence ends at . ! ? … (with its closing quotes or brackets) before white space and
# no lower-case letter; a clause at , ; : or before a dash. The group is the separator.
_SENTENCE_END = re.compile(r"[.!?…][\"'»”’)\]]*(\s++)(?![\u200b\u200c\u200d\u2060\ufeff]*[a-z])")
_CLAUSE_END = re.compile(r"[,;:](\s+)|(\s+)(?=[—–-]\s)")
_WORD_END = re.compile(r"(\s+)")


@dataclass(frozen=True)
class Piece:
    """``text`` goes to the model; ``head`` and ``tail`` are put back around its
    translation as they were (``tail`` includes the white space before the next piece)."""

    text: str
    head: str = ""
    tail: str = ""


def _is_edge(ch: str) -> bool:
    return ch in _EDGE_EXTRA or ch.isspace() or unicodedata.category(ch) in _EDGE_CATEGORIES


def _emoji_side(ch: str) -> bool:
    return ch in _EDGE_EXTRA or unicodedata.category(ch) in ("So", "Sk")


def visible(text: str) -> str:
    """Zero-width characters out; a joiner between two symbols stays (it builds one emoji)."""
    out = []
    for i, ch in enumerate(text):
        if ch in _INVISIBLE:
            joins = ch == _JOINER and 0 < i < len(text) - 1
            if not (joins and _emoji_side(text[i - 1]) and _emoji_side(text[i + 1])):
                continue
        out.append(ch)
    return "".join(out)


def clean_inside(text: str) -> str:
    """``visible``, and every run of white space one space."""
    return _WS_RE.sub(" ", visible(text)).strip()


def frame(text: str, tail: str = "") -> Piece:
    """The plain string of ``text`` for the model, with its edges kept aside. A text that
    is all edge (only emoji, say) goes to the model without its invisible characters."""
    protected = _protected(text)
    start, end = 0, len(text)
    while start < end and start not in protected and _is_edge(text[start]):
        start += 1
    while end > start and end - 1 not in protected and _is_edge(text[end - 1]):
        end -= 1
    core = clean_inside(text[start:end])
    if not core:  # all edge: the model gets its visible part (or all of a blank text)
        return Piece(clean_inside(text) or text, "", tail)
    return Piece(core, visible(text[:start]), visible(text[end:]) + tail)


def sentences(text: str) -> int:
    """How many sentences ``text`` has (where ``pieces`` cuts it first)."""
    return len(_sentences(text))


def _sentences(text: str) -> list[tuple[str, str]]:
    """``text`` cut at sentence ends: (sentence, the white space after it). What is all
    edge (an emoji after the last full stop, say) stays with the sentence before it (the
    first: after it), so that it is framed away rather than sent to the model alone."""
    out: list[tuple[str, str]] = []
    for span, gap in _split(text, _SENTENCE_END):
        if (out and _all_edge(span)) or (out and _all_edge(out[-1][0])):
            prev, sep = out.pop()
            out.append((prev + sep + span, gap))
        else:
            out.append((span, gap))
    return out


def _all_edge(span: str) -> bool:
    return all(_is_edge(ch) or ch in _INVISIBLE for ch in span)


def pieces(text: str, fits: Callable[[str], bool]) -> list[Piece]:
    """``text`` in framed pieces, one per sentence, each cut further until it ``fits``
    (the model's limit): a run of words too long for the limit even alone is cut between
    words (then anywhere), so every piece fits as long as one character does."""
    parts: list[tuple[str, str]] = []  # (span, the white space after it)
    for sentence, gap in _sentences(text):
        for clause, gap2 in _fit(sentence, fits, (_CLAUSE_END, _WORD_END)):
            parts.append((clause, gap2))
        parts[-1] = (parts[-1][0], parts[-1][1] + gap)
    return [frame(span, gap) for span, gap in parts if span or gap] or [frame(text)]


def join(pieces_: Sequence[Piece], translations: Sequence[str]) -> str:
    """The translations put back together with each piece's edges and separators."""
    return "".join(p.head + t + p.tail for p, t in zip(pieces_, translations, strict=True))


def _protected(text: str) -> set[int]:
    """Offsets inside a placeholder (never an edge, never a place to split)."""
    return {i for m in PLACEHOLDER_RE.finditer(text) for i in range(m.start(), m.end())}


def _split(text: str, boundary: re.Pattern[str]) -> list[tuple[str, str]]:
    """``text`` cut at ``boundary``'s separators (its matched group) outside
    placeholders: (span, separator after it)."""
    protected = _protected(text)
    out: list[tuple[str, str]] = []
    last = 0
    for m in boundary.finditer(text):
        g = next(i for i in range(1, (m.lastindex or 0) + 1) if m.group(i) is not None)
        start, end = m.span(g)
        if start == 0 or start in protected or end - 1 in protected:
            continue
        out.append((text[last:start], text[start:end]))
        last = end
    out.append((text[last:], ""))
    return out


def _fit(
    text: str, fits: Callable[[str], bool], rules: tuple[re.Pattern[str], ...]
) -> list[tuple[str, str]]:
    """``text`` in as few spans as fit: cut by the first rule that has places to cut,
    neighbours packed back together while they fit, a span still too long cut by the
    next rule."""
    if not text or fits(frame(text).text):
        return [(text, "")]
    if not rules:
        return _cut_anywhere(text, fits)
    spans = _split(text, rules[0])
    if len(spans) == 1:
        return _fit(text, fits, rules[1:])
    packed: list[tuple[str, str]] = []
    for span, gap in spans:
        if packed and fits(frame(packed[-1][0] + packed[-1][1] + span).text):
            prev, sep = packed.pop()
            packed.append((prev + sep + span, gap))
        else:
            packed.append((span, gap))
    out: list[tuple[str, str]] = []
    for span, gap in packed:
        sub = _fit(span, fits, rules[1:])
        sub[-1] = (sub[-1][0], sub[-1][1] + gap)
        out.extend(sub)
    return out


def _cut_anywhere(text: str, fits: Callable[[str], bool]) -> list[tuple[str, str]]:
    """The last resort for a word longer than the limit: as many characters as fit (found
    by bisection: a few tokenisations per cut)."""
    out: list[tuple[str, str]] = []
    while text:
        lo, hi = 1, len(text)  # text[:lo] is taken whatever; find the longest that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(text[:mid]):
                lo = mid
            else:
                hi = mid - 1
        out.append((text[:lo], ""))
        text = text[lo:]
    return out
