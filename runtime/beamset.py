"""Beam search at the level of one decoder step: sources join and leave between steps.

A ``BeamSet`` holds every running source's beams as rows of one decoder batch. Each
``step()`` runs the decoder once for all rows and applies the search rules of
``runtime/beam.py`` to each source on its own (its own step count, beam width, length
limit, length penalty and placeholder budget), so a source's result does not depend on
what else runs beside it. Finished sources leave at once; new ones are encoded on
``admit`` and join at the next step (iteration-level scheduling).

Rows of one source are contiguous (``beam`` rows, source order). The self-attention cache
is right-aligned: a row that has decoded ``n`` tokens holds the last ``n`` of the ``P``
cache columns, so its position is ``n`` and its ``past_mask`` is ``column ≥ P − n``;
columns no row holds any more are dropped after each step. Rows of one source share
their cross-attention keys, so those move only when the set of sources changes.

A decoder-step graph without ``positions`` / ``past_mask`` (``ragged=False``) puts every
row at position P: sources may then only start together, into an empty set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from core.decoding import Decoding, Hypothesis, length_limits
from core.loops import LoopGuard
from core.text.tokenizer import BOS_ID, SENTINEL_IDS
from runtime.candidates import Candidates, check_beam
from runtime.search_rule import SourceBeams, bar, best_candidates, choose, head_k, repeats

Array = np.ndarray
# (src_ids, src_mask) -> (cross_k, cross_v), each (L, B, h, S, hs)
EncodeFn = Callable[[Array, Array], tuple[Array, Array]]
# (tokens, self_k, self_v [one (R, h, P, hs) per layer], cross_k, cross_v (L, R, h, S, hs),
#  src_mask[, positions, past_mask], top_k=K)
#   -> (each row's K best tokens (R, K), self_k, self_v [one (R, h, P+1, hs) per layer])
Layers = list[Array]  # one array per decoder layer
StepFn = Callable[..., tuple[Candidates, Layers, Layers]]
SENTINELS = np.array(SENTINEL_IDS, dtype=np.int64)


class BeamSet:
    def __init__(
        self,
        encode: EncodeFn,
        step: StepFn,
        cache_shape: tuple[int, int, int],  # (layers, heads, head_dim)
        model_max_len: int,
        ragged: bool,
        loops: LoopGuard | None = None,  # the model's loop guard, for sources that ask for it
    ) -> None:
        self._encode, self._step = encode, step
        self._loops = loops
        self._max_len = model_max_len
        self.ragged = ragged
        layers, heads, hs = cache_shape
        self._cache_shape = cache_shape
        self._sources: list[SourceBeams] = []
        empty = np.zeros((layers, 0, heads, 0, hs), dtype=np.float32)
        # the self-attention caches one array per layer, as the decoder step takes them and
        # gives them back: (R, h, P, hs) each, reordered as beams move, never stacked
        self._self_k = [np.zeros((0, heads, 0, hs), np.float32) for _ in range(layers)]
        self._self_v = [np.zeros((0, heads, 0, hs), np.float32) for _ in range(layers)]
        self._cross_k, self._cross_v = empty, empty.copy()  # (L, R, h, S, hs)
        self._src_mask = np.zeros((0, 0), dtype=np.int64)  # (R, S)
        self._tokens = np.zeros((0, 1), dtype=np.int64)  # (R, 1) each row's next input
        self._emitted = np.zeros((0, len(SENTINEL_IDS)), dtype=np.int64)  # (R, n_ph)

    # -- what is running ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._sources)

    @property
    def rows(self) -> int:
        return int(self._tokens.shape[0])

    @property
    def columns(self) -> int:
        """Cache columns P every row carries (the longest-running row's tokens)."""
        return int(self._self_k[0].shape[2])

    @property
    def keys(self) -> list[Hashable]:
        return [s.key for s in self._sources]

    def agreed(self, key: Hashable) -> list[int]:
        """The tokens a running source's result is sure to begin with: the prefix that
        every live beam and every hypothesis it has finished share (what a stream may
        send before the search ends)."""
        s = next(s for s in self._sources if s.key == key)
        paths = [h for h, score in zip(s.history, s.scores, strict=True) if score > -np.inf]
        paths += [h.tokens for h in s.finished]
        if not paths:
            return []
        n = min(len(p) for p in paths)
        first = paths[0]
        for i in range(n):
            if any(p[i] != first[i] for p in paths):
                return first[:i]
        return first[:n]

    def can_admit(self) -> bool:
        """Whether new sources may join now (always, unless the graph is static)."""
        return self.ragged or not self._sources

    # -- joining and leaving ------------------------------------------------------------
    def admit(self, entries: Sequence[tuple[Hashable, Sequence[int], Decoding]]) -> None:
        """Encode these sources (key, ids ending in EOS, decoding) in one encoder run;
        their beams join at the next step."""
        if not entries:
            return
        if not self.can_admit():
            raise RuntimeError("this decoder-step graph is static: sources join an empty set only")
        for _, ids, d in entries:
            check_beam(d.beam_size)
            if d.max_length < 1:
                raise ValueError(f"max_len must be at least 1, got {d.max_length}")
            if not ids:
                raise ValueError("a source needs at least one token")
            if d.block_loops and self._loops is None:
                raise ValueError("block_loops needs the model's loop guard (core.loops.LoopGuard)")
        width = max(len(ids) for _, ids, _ in entries)
        src = np.zeros((len(entries), width), dtype=np.int64)
        mask = np.zeros_like(src)
        for i, (_, ids, _) in enumerate(entries):
            src[i, : len(ids)], mask[i, : len(ids)] = ids, 1
        cross_k, cross_v = self._encode(src, mask)  # (L, n, h, S, hs)
        rep = np.repeat(np.arange(len(entries)), [d.beam_size for _, _, d in entries])
        new_k, new_v, new_mask = cross_k.take(rep, axis=1), cross_v.take(rep, axis=1), mask[rep]
        columns = max(self._src_mask.shape[1], width)
        _, heads, hs = self._cache_shape
        rows = len(rep)
        self._cross_k = _cat_padded(self._cross_k, new_k, columns)
        self._cross_v = _cat_padded(self._cross_v, new_v, columns)
        self._src_mask = np.concatenate(
            [_pad_last(self._src_mask, columns), _pad_last(new_mask, columns)]
        )
        blank = np.zeros((rows, heads, self.columns, hs), dtype=np.float32)
        self._self_k = [np.concatenate([k, blank]) for k in self._self_k]
        self._self_v = [np.concatenate([v, blank]) for v in self._self_v]
        self._tokens = np.concatenate([self._tokens, np.full((rows, 1), BOS_ID, np.int64)])
        self._emitted = np.concatenate(
            [self._emitted, np.zeros((rows, len(SENTINEL_IDS)), dtype=np.int64)]
        )
        for i, (key, ids, d) in enumerate(entries):
            (limit,) = length_limits([len(ids)], min(d.max_length, self._max_len - 1))
            scores = np.full(d.beam_size, -np.inf, dtype=np.float32)
            scores[0] = 0.0  # all beams start identical: expand only the first
            required = (src[i, : len(ids), None] == SENTINELS).sum(0)
            self._sources.append(
                SourceBeams(
                    key,
                    d.beam_size,
                    limit,
                    d.length_penalty,
                    d.constrain_placeholders,
                    len(ids),
                    required,
                    scores,
                    [[] for _ in range(d.beam_size)],
                    block_repeats=d.block_repeats,
                    source=tuple(ids),
                    loops=self._loops.for_source(ids) if self._loops and d.block_loops else None,
                )
            )

    def drop(self, keys: Sequence[Hashable]) -> None:
        """These sources leave before they finish (their clients went away, their deadline
        passed): their rows are gone from the next step."""
        gone = set(keys)
        if not gone & set(self.keys):
            return
        rows: list[int] = []
        kept: list[SourceBeams] = []
        start = 0
        for s in self._sources:
            if s.key not in gone:
                rows.extend(range(start, start + s.beam))
                kept.append(s)
            start += s.beam
        idx = np.array(rows, dtype=np.int64)
        self._sources = kept
        self._self_k = [k.take(idx, axis=0) for k in self._self_k]
        self._self_v = [v.take(idx, axis=0) for v in self._self_v]
        self._tokens, self._emitted = self._tokens[idx], self._emitted[idx]
        self._move_cross(idx)
        self._trim_cache()

    # -- one step -------------------------------------------------------------------------
    def step(self) -> list[tuple[Hashable, Hypothesis]]:
        """One decoder step for every row; the sources that finished, with their best
        hypothesis (they have left the set)."""
        if not self._sources:
            return []
        cand, self_k, self_v = self._run()
        if cand.nonfinite.any():
            raise FloatingPointError("the decoder produced non-finite logits (NaN or inf)")
        starts = np.cumsum([0, *(s.beam for s in self._sources)])
        constrain = np.repeat([s.constrain for s in self._sources], [s.beam for s in self._sources])
        required = np.concatenate(
            [np.broadcast_to(s.required, (s.beam, len(SENTINEL_IDS))) for s in self._sources]
        )
        spent = self._emitted >= required
        logp = bar(cand.logp, cand.ids, spent, constrain, repeats(self._sources))  # (R, K)
        tops = best_candidates(self._sources, starts, logp, cand.ids)
        next_rows: list[int] = []
        next_tokens: list[int] = []
        kept: list[SourceBeams] = []
        done: list[tuple[Hashable, Hypothesis]] = []
        for b, s in enumerate(self._sources):
            s.step += 1
            live = choose(s, int(starts[b]), tops[b])
            if len(s.finished) >= s.beam or not live:
                done.append((s.key, max(s.finished, key=lambda h: h.score)))
                continue
            kept.append(s)
            live += [(live[-1][0], live[-1][1], -np.inf)] * (s.beam - len(live))
            parents = [row for row, _, _ in live]
            s.history = [[*s.history[row - int(starts[b])], tok] for row, tok, _ in live]
            s.scores = np.array([score for _, _, score in live], dtype=np.float32)
            next_rows.extend(parents)
            next_tokens.extend(tok for _, tok, _ in live)
        left = len(kept) != len(self._sources)
        self._sources = kept
        idx = np.array(next_rows, dtype=np.int64)
        self._self_k = [k.take(idx, axis=0) for k in self_k]  # each row's parent's cache
        self._self_v = [v.take(idx, axis=0) for v in self_v]
        self._tokens = np.array(next_tokens, dtype=np.int64).reshape(-1, 1)
        self._emitted = self._emitted[idx] + (self._tokens == SENTINELS)
        if left:
            self._move_cross(idx)
        self._trim_cache()
        return done

    def _run(self) -> tuple[Candidates, Layers, Layers]:
        args: list[Array | Layers] = [
            self._tokens,
            self._self_k,
            self._self_v,
            self._cross_k,
            self._cross_v,
            self._src_mask,
        ]
        if self.ragged:
            seen = np.repeat([s.step for s in self._sources], [s.beam for s in self._sources])
            columns = self.columns
            positions = seen.astype(np.int64).reshape(-1, 1)  # (R, 1)
            past_mask = (np.arange(columns)[None, :] >= columns - seen[:, None]).astype(np.int64)
            args += [positions, past_mask]
        return self._step(*args, top_k=head_k(self._sources))

    # -- keeping the arrays tight -----------------------------------------------------------
    def _move_cross(self, rows: Array) -> None:
        """Cross-attention rows for ``rows`` (after sources left), cut to the longest
        source still running."""
        columns = max((s.length for s in self._sources), default=0)
        self._cross_k = np.ascontiguousarray(self._cross_k[:, :, :, :columns].take(rows, axis=1))
        self._cross_v = np.ascontiguousarray(self._cross_v[:, :, :, :columns].take(rows, axis=1))
        self._src_mask = np.ascontiguousarray(self._src_mask[rows, :columns])

    def _trim_cache(self) -> None:
        """Drop the leading cache columns no row holds any more."""
        held = max((s.step for s in self._sources), default=0)
        extra = self.columns - held
        if extra > 0:
            self._self_k = [np.ascontiguousarray(k[:, :, extra:]) for k in self._self_k]
            self._self_v = [np.ascontiguousarray(v[:, :, extra:]) for v in self._self_v]


def _pad_last(a: Array, width: int) -> Array:
    """``a`` zero-padded on its last axis to ``width``."""
    if a.shape[-1] == width:
        return a
    pad = [(0, 0)] * (a.ndim - 1) + [(0, width - a.shape[-1])]
    return np.pad(a, pad)


def _cat_padded(running: Array, new: Array, columns: int) -> Array:
    """Cross-attention rows (L, R, h, S, hs) of the running and the new sources, both
    zero-padded to ``columns`` source positions (masked by ``src_mask``)."""
    pad = [(0, 0), (0, 0), (0, 0)]
    a = np.pad(running, [*pad, (0, columns - running.shape[3]), (0, 0)])
    b = np.pad(new, [*pad, (0, columns - new.shape[3]), (0, 0)])
    return np.concatenate([a, b], axis=1)
