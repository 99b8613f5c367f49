"""What the beam searches share: log-softmax, the top-k candidate selection (ties to the
lower index, as a stable sort gives), the beam-width check, and the search head: each
row's best tokens after one decoder step (in the decoder-step graph since en-fr/3;
``from_logits`` is its NumPy twin for graphs exported before)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


def log_softmax(x: Array) -> Array:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def top_k(cand: Array, k: int) -> tuple[Array, Array]:
    """The k best candidates of each row, best first; equal scores by lower index (what a
    stable sort gives, as in the reference decoder, so ties at the cut-off agree too).

    A full sort of each row (beam × vocabulary, 24,000 candidates at beam 4) took two
    thirds of a beam-4 translation's time; this selects in linear time instead: the k-th
    best score by partition, everything better, then the ties at that score by index,
    and sorts only those k."""
    n = cand.shape[1]
    if k >= n:
        idx = np.argsort(-cand, axis=1, kind="stable")
        return np.take_along_axis(cand, idx, axis=1), idx
    neg = -cand
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]  # (R, 1): the k-th best
    better = neg < kth
    ties = neg == kth
    room = k - better.sum(axis=1, keepdims=True)  # ≥ 1 slots left for the ties
    chosen = better | ties
    crowded = (ties.sum(axis=1, keepdims=True) > room).ravel()  # more ties than slots
    if crowded.any():  # keep the lowest-index ties
        t = ties[crowded]
        chosen[crowded] = better[crowded] | (t & (np.cumsum(t, axis=1) <= room[crowded]))
    cols = np.nonzero(chosen)[1].reshape(-1, k)  # per row, in index order
    order = np.argsort(np.take_along_axis(neg, cols, axis=1), axis=1, kind="stable")
    idx = np.take_along_axis(cols, order, axis=1)
    return np.take_along_axis(cand, idx, axis=1), idx


MAX_BEAM = 16  # the widest beam this search takes; the service's own limit may be lower


def check_beam(beam: int) -> None:
    """The one check of a beam width against what the search takes."""
    if not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam must be in 1..{MAX_BEAM}, got {beam}")


@dataclass(frozen=True)
class Candidates:
    """One decoder step's best tokens per row, best first, as the search head gives them
    (nothing barred yet: PAD, BOS and the placeholder rule are the search's to apply)."""

    logp: Array  # (R, K) float32 log-probabilities
    ids: Array  # (R, K) int64 token ids; equal log-probabilities by lower id

    @property
    def nonfinite(self) -> Array:
        """(R,) rows whose logits held a NaN or +inf: log-softmax makes such a row all
        NaN (and a row of nothing but −inf all −inf), so its best is not finite."""
        out: Array = ~np.isfinite(self.logp[:, 0])
        return out


def from_logits(last: Array, k: int) -> Candidates:
    """The search head in NumPy, from the last position's logits (R, V): what a
    decoder-step graph carrying the head returns as ``top_logp``, ``top_ids``."""
    logp = log_softmax(last.astype(np.float32, copy=False))  # (R, V)
    broken = np.isnan(logp).any(axis=1)  # (R,) a NaN or +inf logit, or nothing but −inf
    logp[broken] = -np.inf  # NaNs would not sort
    top, idx = top_k(logp, min(k, logp.shape[1]))
    top[broken, 0] = np.nan  # as the graph gives such a row: its best is not finite
    return Candidates(top, idx.astype(np.int64))
