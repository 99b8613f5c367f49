"""ONNX Runtime sessions: one place that picks the execution provider and threads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def create(path: Path, device: str = "cpu", threads: int = 0) -> ort.InferenceSession:
    """A session on ``device`` (``cpu`` or ``cuda``), refusing a silent fallback to CPU."""
    if device not in PROVIDERS:
        raise ValueError(f"device must be one of {sorted(PROVIDERS)}, got {device!r}")
    wanted = PROVIDERS[device]
    if wanted not in ort.get_available_providers():
        raise RuntimeError(
            f"{wanted} is not available in this onnxruntime build "
            f"({', '.join(ort.get_available_providers())}); install onnxruntime-gpu or use cpu"
        )
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    providers = [wanted] if device == "cpu" else [wanted, PROVIDERS["cpu"]]
    sess = ort.InferenceSession(str(path), opts, providers=providers)
    if sess.get_providers()[0] != wanted:
        raise RuntimeError(f"{path.name}: asked for {wanted}, got {sess.get_providers()}")
    return sess


class ProviderLost(RuntimeError):
    """The session no longer runs on the provider it was created for (ORT's Python wrapper
    falls back to CPU for good after a CUDA failure inside ``run``)."""


class Runner:
    """``session.run`` that checks the provider after every call, and on CUDA binds inputs
    and outputs through IOBinding (outputs allocated on the device, copied back once)."""

    def __init__(self, session: ort.InferenceSession, device: str) -> None:
        self.session = session
        self.device = device
        self.provider = session.get_providers()[0]
        self.outputs = [o.name for o in session.get_outputs()]

    def __call__(
        self, names: Sequence[str] | None, feeds: dict[str, np.ndarray]
    ) -> list[np.ndarray]:
        wanted = list(names) if names is not None else self.outputs
        if self.device == "cuda":
            binding = self.session.io_binding()
            for name, value in feeds.items():
                binding.bind_cpu_input(name, np.ascontiguousarray(value))
            for name in wanted:
                binding.bind_output(name, "cuda")
            self.session.run_with_iobinding(binding)
            out = list(binding.copy_outputs_to_cpu())
        else:
            out = list(self.session.run(wanted, feeds))
        if self.session.get_providers()[0] != self.provider:
            raise ProviderLost(
                f"the session fell back from {self.provider} to {self.session.get_providers()[0]}"
            )
        return out


def pad(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(B, T) int64 ids and 0/1 mask, right-padded (T ≥ 1)."""
    width = max(1, max((len(s) for s in seqs), default=1))
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask
