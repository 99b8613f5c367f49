"""The offline A/B of two builds: each side runs from its own tree and version folder (here
this checkout on en-fr/1 and on en-fr/5), and the ratio follows the figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import offline_ab

pytestmark = pytest.mark.slow


def test_two_versions_are_timed_side_by_side(corpora: Path) -> None:
    from tests.support.server import REPOSITORY

    root = REPOSITORY.parent
    out = offline_ab.run(
        f"{root}:{REPOSITORY / 'en-fr' / '1'}", f"{root}:model_repository/en-fr/5", corpora, 1, 12
    )
    assert set(out) == {"beam4", "greedy"}
    for cell in out.values():
        (a,), (b,) = cell["a"], cell["b"]
        assert a > 0 and b > 0 and cell["b_over_a"] == pytest.approx(b / a, abs=0.011)
    with pytest.raises(SystemExit, match="TREE:VERSION_FOLDER"):
        offline_ab.run(str(root), str(root), corpora, 1, 12)
