"""What the load tests send: the real test splits when present, and the task weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.mix import DEFAULT_MIX, Corpus, weights


def test_weights_override_the_default_mix() -> None:
    assert weights("") == DEFAULT_MIX
    mix = weights("translate_beam=5, attention=0")
    assert mix["translate_beam"] == 5 and mix["attention"] == 0
    assert mix["classify_short"] == DEFAULT_MIX["classify_short"]


@pytest.mark.parametrize("spec", ["translate=1", "attention=-1", "attention", "attention=x"])
def test_bad_weights_say_the_names(spec: str) -> None:
    with pytest.raises(ValueError, match="use name=weight with names"):
        weights(spec)


def test_corpus_reads_the_test_splits(tmp_path: Path) -> None:
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "en-fr").mkdir()
    reviews = ["short", "a longer review", "the longest review of all four", "mid one"]
    (tmp_path / "sentiment" / "test.jsonl").write_text(
        "".join(json.dumps({"text": r, "label": 1}) + "\n" for r in reviews)
    )
    (tmp_path / "en-fr" / "test.jsonl").write_text(json.dumps({"source": "Save", "target": "x"}))
    corpus = Corpus.load(tmp_path)
    assert not corpus.synthetic and corpus.sources == ["Save"]
    assert corpus.short_reviews == ["short", "mid one"]
    assert corpus.long_reviews == ["a longer review", "the longest review of all four"]


def test_corpus_falls_back_to_built_in_sentences(tmp_path: Path) -> None:
    corpus = Corpus.load(tmp_path)
    assert corpus.synthetic and corpus.short_reviews and corpus.sources
