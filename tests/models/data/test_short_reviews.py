"""The short reviews: the committed check set, and the generated ones that join training."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from core.text.normalize import dedup_key
from models.data.jsonl import read_jsonl
from models.data.short_reviews import (
    BLIND_SET,
    CHECK_SETS,
    FLIP,
    SEED,
    THIRD_SET,
    generate,
    read_check_set,
    read_lexicon,
    words,
)
from models.data.sources import SENTIMENT_SOURCES, fetch


def test_the_check_set_is_240_labelled_short_reviews_none_from_the_snippet_pool(
    corpora: Path,
) -> None:
    rows = read_check_set()
    assert len(rows) == 240 and Counter(r["label"] for r in rows) == {
        "positive": 120,
        "negative": 120,
    }
    keys = [dedup_key(r["text"]) for r in rows]
    assert len(set(keys)) == 240
    assert all(len(r["text"].split()) <= 12 for r in rows)
    negation = ("not", "t", "never", "no", "nothing", "hardly")  # "t": what dedup_key leaves of n't
    negated = sum(any(w in k.split() for w in negation) for k in keys)
    assert negated >= 50
    pool = {
        dedup_key(r["text"])
        for split in ("train", "valid", "test")
        for r in read_jsonl(corpora / "sentiment" / f"{split}.jsonl")
    }
    assert not pool & set(keys)
    blind = read_check_set(BLIND_SET)  # written apart; what equals the first set taken out
    assert len(blind) == 178 and {r["label"] for r in blind} == {"positive", "negative"}
    blind_keys = {dedup_key(r["text"]) for r in blind}
    assert len(blind_keys) == 178 and not blind_keys & (pool | set(keys))
    third = read_check_set(THIRD_SET)  # written later still, apart from both
    assert len(third) == 200 and Counter(r["label"] for r in third) == {
        "positive": 100,
        "negative": 100,
    }
    third_keys = {dedup_key(r["text"]) for r in third}
    assert len(third_keys) == 200 and not third_keys & (pool | set(keys) | blind_keys)


def test_generated_reviews_join_training_only_and_never_repeat_a_check_review(
    corpora: Path,
) -> None:
    folder = corpora / "sentiment"
    manifest = json.loads((folder / "manifest.json").read_text())
    augment = list(read_jsonl(folder / "augment.jsonl"))
    assert manifest["splits"]["augment"]["count"] == len(augment) > 4000
    labels = Counter(r["label"] for r in augment)
    assert abs(labels["positive"] - labels["negative"]) < 0.05 * len(augment)
    checks = {dedup_key(r["text"]) for path in CHECK_SETS.values() for r in read_check_set(path)}
    assert len(checks) == 240 + 178 + 200
    assert not checks & {dedup_key(r["text"]) for r in augment}
    assert manifest["augment"]["dropped"]["equal_to_a_check_set_review_or_snippet"] > 0


def test_negation_turns_the_label_of_the_word_it_negates(cache_dir: Path) -> None:
    lexicon = read_lexicon(fetch(SENTIMENT_SOURCES[1], cache_dir))
    assert lexicon["awful"] < -1.5 < 1.5 < lexicon["wonderful"]
    vocab = words(lexicon, ["an awful film", "a wonderful film"] * 3)
    assert "awful" in vocab["negative"] and "wonderful" in vocab["positive"]
    assert not set(vocab["positive"]) & set(vocab["negative"])
    assert set(vocab["positive"]) <= set(SEED["positive"]) | {"wonderful"}
    flips = {t.format(a="X", A="X", an="an X", n="film", m="plot").lower() for t in FLIP}
    for row in generate({"positive": ["good"], "negative": ["bad"]}, 400):
        text = row["text"].lower().rstrip(".!")
        if text.replace("bad", "X").replace("good", "X").rstrip(".!") + "." in flips:
            word = "good" if "good" in text else "bad"
            assert row["label"] == ("negative" if word == "good" else "positive"), row
