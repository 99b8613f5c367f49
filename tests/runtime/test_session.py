"""Sessions: the provider is checked at creation and after every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.session import ProviderLost, Runner, create, pad

GRAPH = (
    Path(__file__).resolve().parents[2] / "model_repository" / "sentiment" / "1" / "classifier.onnx"
)


def test_cpu_session_and_runner() -> None:
    session = create(GRAPH, "cpu", threads=1)
    run = Runner(session, "cpu")
    ids, mask = pad([[5, 6, 7], [8]])
    (logits,) = run(["logits"], {"input_ids": ids, "attention_mask": mask})
    assert logits.shape == (2, 2) and np.isfinite(logits).all()
    assert len(run(None, {"input_ids": ids, "attention_mask": mask})) == 3


def test_a_provider_change_after_a_run_is_refused() -> None:
    run = Runner(create(GRAPH, "cpu"), "cpu")
    run.provider = "CUDAExecutionProvider"
    ids, mask = pad([[5]])
    with pytest.raises(ProviderLost, match="fell back"):
        run(["logits"], {"input_ids": ids, "attention_mask": mask})


def test_unknown_or_missing_providers_are_refused() -> None:
    with pytest.raises(ValueError, match="device must be one of"):
        create(GRAPH, "tpu")
    with pytest.raises(RuntimeError, match="install onnxruntime-gpu"):
        create(GRAPH, "cuda")


def test_pad_right_pads_with_a_mask() -> None:
    ids, mask = pad([[1, 2, 3], [4]])
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert pad([])[0].shape == (0, 1)
