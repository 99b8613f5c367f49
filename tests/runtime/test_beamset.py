"""Sources joining and leaving a running ``BeamSet`` between steps get exactly what they
get in a static batch: the property behind continuous batching of beam search. The
decoder steps are the PyTorch model's with per-row positions and a cache mask (no ONNX
here); tests/export/test_pipeline.py runs the same check through the exported graphs."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pytest
import torch

from core.decoding import Decoding, Hypothesis
from runtime import beam
from runtime.beamset import BeamSet
from runtime.candidates import Candidates, from_logits
from tests.runtime.test_beam import VOCAB, _fns, _sources
from tests.small_models import small_translator

CACHE = (2, 4, 8)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return small_translator(VOCAB, seed=3)


def _ragged_step(model):  # type: ignore[no-untyped-def]
    def step(*args: Any, top_k: int) -> tuple[Candidates, list[np.ndarray], list[np.ndarray]]:
        # the self-attention caches come one array per layer: stacked for the model
        stacked = (torch.from_numpy(np.stack(a) if isinstance(a, list) else a) for a in args)
        with torch.no_grad():
            logits, k, v, _ = model.decode_step(*stacked)
        return from_logits(logits[:, -1].numpy(), top_k), list(k.numpy()), list(v.numpy())

    return step


def _entries(n: int, seed: int) -> list[tuple[int, list[int], Decoding]]:
    ids, mask = _sources(n, seed)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = Decoding(int(rng.choice([1, 2, 4])), 40, float(rng.choice([1.0, 0.6])))
        out.append((i, ids[i, : mask[i].sum()].tolist(), d))
    return out


def _static(model, entry: tuple[int, list[int], Decoding]) -> Hypothesis:  # type: ignore[no-untyped-def]
    encode, step = _fns(model)
    _, ids, d = entry
    src = np.array([ids], dtype=np.int64)
    (hyp,) = beam.beam_search(
        encode,
        step,
        src,
        np.ones_like(src),
        CACHE,
        model.cfg.max_len,
        beam=d.beam_size,
        max_len=d.max_length,
        length_penalty=d.length_penalty,
    )
    return hyp


def _run(
    beams: BeamSet,
    entries: list[tuple[int, list[int], Decoding]],
    rng: np.random.Generator,
    drop_every: int = 0,
) -> tuple[dict[Hashable, Hypothesis], set[Hashable], int]:
    """Random arrivals (0..5 sources before each step), optionally a running source dropped
    every ``drop_every`` steps; results, the dropped keys, the most cache columns seen."""
    waiting = [entries[i] for i in rng.permutation(len(entries))]
    found: dict[Hashable, Hypothesis] = {}
    dropped: set[Hashable] = set()
    steps = widest = 0
    while waiting or len(beams):
        n = int(rng.integers(0, 6)) if len(beams) else 1
        beams.admit(waiting[:n])
        waiting = waiting[n:]
        steps += 1
        if drop_every and steps % drop_every == 0 and len(beams) > 1:
            key = beams.keys[int(rng.integers(0, len(beams)))]
            beams.drop([key])
            dropped.add(key)
        found.update(beams.step())
        widest = max(widest, beams.columns)
        # the cache holds no column that no running row needs
        assert beams.columns == max((s.step for s in beams._sources), default=0)
    return found, dropped, widest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_source_decodes_the_same_whatever_runs_beside_it(model, seed: int) -> None:  # type: ignore[no-untyped-def]
    entries = _entries(30, seed)
    beams = BeamSet(_fns(model)[0], _ragged_step(model), CACHE, model.cfg.max_len, ragged=True)
    found, _, _ = _run(beams, entries, np.random.default_rng(seed))
    want = {e[0]: _static(model, e) for e in entries}
    same = [k for k in want if found[k].tokens == want[k].tokens]
    assert len(same) == len(entries), [(k, found[k], want[k]) for k in want if k not in same]
    assert [found[k].score for k in want] == pytest.approx([want[k].score for k in want], abs=1e-4)
    assert {len(h.tokens) for h in found.values()} != {40}  # they ended at different points
    assert len({e[2].beam_size for e in entries}) == 3  # beam widths mixed in one step


def test_dropped_sources_leave_and_the_rest_are_unchanged(model) -> None:  # type: ignore[no-untyped-def]
    entries = _entries(24, seed=7)
    beams = BeamSet(_fns(model)[0], _ragged_step(model), CACHE, model.cfg.max_len, ragged=True)
    found, dropped, widest = _run(beams, entries, np.random.default_rng(7), drop_every=3)
    assert dropped and not dropped & set(found)
    assert set(found) | dropped == {e[0] for e in entries}
    for e in entries:
        if e[0] in found:
            assert found[e[0]].tokens == _static(model, e).tokens
    assert beams.rows == 0 and beams.columns == 0  # nothing left behind
    assert widest <= 40  # bounded by the longest running source, not by the run's length


def test_a_static_graph_admits_sources_only_into_an_empty_set(model) -> None:  # type: ignore[no-untyped-def]
    encode, step = _fns(model)
    beams = BeamSet(encode, step, CACHE, model.cfg.max_len, ragged=False)
    first, second = _entries(2, seed=1)
    beams.admit([first])
    beams.step()
    assert len(beams) and not beams.can_admit()
    with pytest.raises(RuntimeError, match="static"):
        beams.admit([second])


def test_bad_entries_are_refused(model) -> None:  # type: ignore[no-untyped-def]
    beams = BeamSet(_fns(model)[0], _ragged_step(model), CACHE, model.cfg.max_len, ragged=True)
    with pytest.raises(ValueError, match=r"beam must be in 1\.\.16"):
        beams.admit([(0, [5, 2], Decoding(0, 10, 1.0))])
    with pytest.raises(ValueError, match="at least one token"):
        beams.admit([(0, [], Decoding(2, 10, 1.0))])
    assert beams.step() == [] and len(beams) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_what_a_source_has_agreed_on_is_how_its_result_begins(model, seed: int) -> None:  # type: ignore[no-untyped-def]
    """After every step, ``agreed`` is a prefix of the source's final result that only
    grows; greedy agrees on every token as it comes; beams at last agree on all of it."""
    entries = _entries(20, seed)
    beams = BeamSet(_fns(model)[0], _ragged_step(model), CACHE, model.cfg.max_len, ragged=True)
    beams.admit(entries)
    seen: dict[int, list[list[int]]] = {e[0]: [] for e in entries}
    found: dict[Hashable, Hypothesis] = {}
    while len(beams):
        found.update(beams.step())
        for key in beams.keys:
            seen[key].append(beams.agreed(key))  # type: ignore[index]
    grew = 0
    for key, _, d in entries:
        final = found[key].tokens
        for before, after in zip(seen[key], seen[key][1:], strict=False):
            assert after[: len(before)] == before  # it only grows
        for prefix in seen[key]:
            assert final[: len(prefix)] == prefix
        if d.beam_size == 1:
            assert [len(p) for p in seen[key]] == list(range(1, len(seen[key]) + 1))
        grew += bool(seen[key]) and len(seen[key][-1]) > 0
    assert grew >= len(entries) // 2
    with pytest.raises(StopIteration):
        beams.agreed(entries[0][0])  # a source that has left


def test_a_finished_hypothesis_and_the_live_beams_bound_the_agreed_prefix(model) -> None:  # type: ignore[no-untyped-def]
    """The result may yet be a hypothesis already finished: what is agreed is shared with
    those too; beams that are not live (−inf) do not count."""
    from runtime.search_rule import SourceBeams

    beams = BeamSet(_fns(model)[0], _ragged_step(model), CACHE, model.cfg.max_len, ragged=True)
    scores = np.array([-1.0, -2.0, -np.inf], np.float32)
    s = SourceBeams(
        "k", 3, 40, 1.0, True, 4, np.zeros(16, int), scores, [[5, 6, 7], [5, 6, 8], [9]]
    )
    beams._sources.append(s)
    assert beams.agreed("k") == [5, 6]
    s.finished.append(Hypothesis([5, 3], -0.5))
    assert beams.agreed("k") == [5]
