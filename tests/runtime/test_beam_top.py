"""The beam search's top-k selection equals a stable full sort: same candidates, same
order, ties going to the lower index — including ties at the cut-off and rows of -inf
(which is what keeps served beams identical to the PyTorch reference decoder)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.candidates import top_k as _top


def _stable(cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argsort(-cand, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, idx, axis=1), idx


@pytest.mark.parametrize("seed", range(5))
def test_top_k_equals_a_stable_sort_on_tie_heavy_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        rows, n = int(rng.integers(1, 6)), int(rng.integers(1, 60))
        cand = rng.integers(-4, 3, size=(rows, n)).astype(np.float32)  # many equal scores
        cand[rng.random((rows, n)) < 0.3] = -np.inf
        k = int(rng.integers(1, n + 1))
        got, want = _top(cand, k), _stable(cand, k)
        assert np.array_equal(got[1], want[1]), (cand, k)
        assert np.array_equal(got[0], want[0])


def test_top_k_on_beam_sized_rows() -> None:
    rng = np.random.default_rng(7)
    cand = rng.standard_normal((16, 4 * 6000)).astype(np.float32)
    cand[:8, 6000:] = -np.inf  # the first step: only the first beam of each source is live
    cand[3, [5, 17, 900]] = 9.0  # a three-way tie at the top
    got, want = _top(cand, 8), _stable(cand, 8)
    assert np.array_equal(got[1], want[1]) and list(got[1][3, :3]) == [5, 17, 900]
