"""The time-to-first-token benchmark on a real ``attnserve serve`` (raw sockets): its
figures are measured, in order (first token before done), and the ratios follow them."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import streaming

pytestmark = pytest.mark.slow


def test_first_tokens_are_timed_against_the_encoder_and_one_step(corpora: Path) -> None:
    from tests.support.server import REPOSITORY

    out = streaming.run(REPOSITORY, corpora, 4)
    assert out["sources"] == 4 and out["version"] == 5
    for row in out["rows"]:
        assert 0 < row["first_s"] <= row["done_s"]
        assert row["encoder_s"] > 0 and row["step_s"] > 0
    ms = out["median_ms"]
    want = ms["first_s"] / (ms["encoder_s"] + ms["step_s"])
    assert out["first_vs_encoder_plus_step"] == pytest.approx(want, rel=0.02)
