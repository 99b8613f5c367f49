"""Workloads are the real test splits: short, mixed and long by length; requests of k texts."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from benchmarks import workloads


def test_classification_workloads_split_by_length(corpora: Path) -> None:
    mean = {
        name: statistics.mean(len(t) for t in workloads.load(name, corpora).texts)
        for name in workloads.CLASSIFY
    }
    assert mean["classify_short"] < mean["classify_mixed"] < mean["classify_long"]
    mixed = workloads.load("classify_mixed", corpora)
    assert len(mixed.texts) == len(set(mixed.texts)) > 1000  # the whole sentiment test split


def test_requests_carry_k_texts_and_the_options(corpora: Path) -> None:
    w = workloads.load("translate_beam4", corpora, texts_per_request=4)
    bodies = w.bodies()
    assert len(bodies) == len(w.texts) // 4
    assert all(len(b["texts"]) == 4 and b["beam_size"] == 4 and b["truncate"] for b in bodies)
    assert w.path == "/v1/translate" and w.model == "en-fr"


def test_missing_splits_and_unknown_names_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `attnserve data`"):
        workloads.load("classify_mixed", tmp_path)
    with pytest.raises(ValueError, match="choose from classify_short"):
        workloads.load("classify_everything", tmp_path)
