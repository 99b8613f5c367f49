"""Shared fixtures: the real corpora, built once per session from the pinned packages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.data.corpora import build_corpus
from models.data.sources import ENFR_SOURCES, default_cache_dir

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
