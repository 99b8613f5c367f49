"""Shared fixtures: the real corpora, built once per session from the pinned packages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.text.tokenizer import SubwordTokenizer
from models.data.corpora import build_corpus
from models.data.jsonl import read_jsonl
from models.data.sources import ENFR_SOURCES, default_cache_dir
from tests.small_models import save_run, small_classifier, small_translator

torch.set_num_threads(2)

# Two small real catalogs keep the en-fr test corpus quick to build and to train on.
SMALL_ENFR = tuple(s for s in ENFR_SOURCES if s.name in ("sphinx", "trac", "django"))


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return default_cache_dir()


@pytest.fixture(scope="session")
def corpora(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """data dir with the full real sentiment corpus and a small real en-fr corpus."""
    data = tmp_path_factory.mktemp("data")
    build_corpus("sentiment", data, cache_dir, log=lambda _: None)
    build_corpus("en-fr", data, cache_dir, sources=SMALL_ENFR, log=lambda _: None)
    return data


@pytest.fixture(scope="session")
def full_enfr(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """The whole en-fr corpus (PyPI and Debian catalogs, the held-out ones in ``unseen``)."""
    data = tmp_path_factory.mktemp("data")
    build_corpus("en-fr", data, cache_dir, log=lambda _: None)
    return data / "en-fr"


@pytest.fixture(scope="session")
def classifier_run(corpora: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder: random small classifier, tokenizer trained on the real sentiment data."""
    rows = list(read_jsonl(corpora / "sentiment" / "train.jsonl"))[:2000]
    tok = SubwordTokenizer.train((r["text"] for r in rows), vocab_size=400)
    model = small_classifier(tok.vocab_size)
    folder = tmp_path_factory.mktemp("runs") / "sentiment"
    return save_run(folder, model, tok, corpora / "sentiment", {"labels": ["negative", "positive"]})


@pytest.fixture(scope="session")
def translator_run(corpora: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = list(read_jsonl(corpora / "en-fr" / "train.jsonl"))[:2000]
    tok = SubwordTokenizer.train(
        (t for r in rows for t in (r["source"], r["target"])), vocab_size=500
    )
    model = small_translator(tok.vocab_size)
    folder = tmp_path_factory.mktemp("runs") / "en-fr"
    return save_run(folder, model, tok, corpora / "en-fr", {})
