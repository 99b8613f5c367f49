"""CTranslate2 on the served en-fr weights (the bench's translator peer): the model built
from the recovered weights decodes the test split greedily exactly as attnserve does, and
beam search runs; the layout search returns a timed peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import workloads
from benchmarks.baselines import ctranslate2_model as ct2
from tests.support.server import REPOSITORY

pytestmark = pytest.mark.slow


def test_ctranslate2_decodes_like_attnserve_on_the_same_weights(
    corpora: Path, tmp_path: Path
) -> None:
    peer = ct2.Peer.open(REPOSITORY, tmp_path / "ct2")
    texts = [r["source"] for r in workloads.test_rows(corpora, "en-fr")[:60]]
    sources = peer.sources(texts)
    ident = ct2.greedy_identity(peer, REPOSITORY, sources)
    assert ident == {"sentences": 60, "identical": 60}
    beams = peer.translate(sources[:8], beam=4)
    assert len(beams) == 8 and all(b and all(t >= 0 for t in b) for b in beams)
    best, tokens, tried = ct2.best(REPOSITORY, tmp_path / "ct2", sources[:16], beam=2)
    assert tokens in ct2.BATCH_TOKENS and set(tried) >= {f"{best.layout}@{tokens}"}
    assert all(speed > 0 for speed in tried.values())
