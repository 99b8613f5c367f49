"""The models are built for ONNX export: a traced graph, exported at one shape, must agree
with PyTorch at other batch sizes, lengths and cache lengths, and with an all-padding row.
(The export command itself belongs to the export package; this guards the model code.)"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from models.classifier import Classifier, ClassifierConfig
from models.translator import Translator, TranslatorConfig


class _Classify(torch.nn.Module):
    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, attn, alpha = self.model(ids, mask)
        return logits, torch.stack(attn, 1), alpha


class _Step(torch.nn.Module):
    def __init__(self, model: Translator) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model.decode_step(*args)


def _session(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    names: list[str],
    axes: dict[str, dict[int, str]],
    path: Path,
) -> ort.InferenceSession:
    module.eval()
    torch.onnx.export(module, args, str(path), input_names=names, dynamic_axes=axes, dynamo=False)
    module.eval()
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.filterwarnings("ignore")
def test_classifier_graph_is_dynamic_and_nan_free(tmp_path: Path) -> None:
    torch.manual_seed(0)
    wrapper = _Classify(Classifier(ClassifierConfig(vocab_size=50, d_model=32, n_heads=4, d_ff=64)))
    example = (torch.randint(4, 50, (2, 5)), torch.ones(2, 5, dtype=torch.long))
    axes = {"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}}
    sess = _session(wrapper, example, ["ids", "mask"], axes, tmp_path / "c.onnx")
    for batch, seq in ((1, 1), (3, 9), (17, 4)):
        ids = torch.randint(4, 50, (batch, seq))
        mask = torch.ones(batch, seq, dtype=torch.long)
        mask[-1] = 0  # an all-padding row
        got = sess.run(None, {"ids": ids.numpy(), "mask": mask.numpy()})
        want = wrapper(ids, mask)
        for g, w in zip(got, want, strict=True):
            assert not np.isnan(g).any()
            np.testing.assert_allclose(g, w.detach().numpy(), atol=1e-4)


@pytest.mark.filterwarnings("ignore")
def test_decoder_step_graph_is_dynamic_including_an_empty_cache(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Translator(
        TranslatorConfig(vocab_size=40, d_model=32, n_heads=4, d_ff=64, enc_layers=2, dec_layers=2)
    )
    step = _Step(model).eval()

    def inputs(batch: int, src_len: int, past: int, new: int) -> tuple[torch.Tensor, ...]:
        src = torch.randint(4, 40, (batch, src_len))
        mask = torch.ones(batch, src_len, dtype=torch.long)
        mask[0, 1:] = 0
        ck, cv, _ = model.encode(src, mask)
        k, v = torch.randn(2, batch, 4, past, 8), torch.randn(2, batch, 4, past, 8)
        return torch.randint(4, 40, (batch, new)), k, v, ck, cv, mask

    names = ["tokens", "self_k", "self_v", "cross_k", "cross_v", "src_mask"]
    axes = {
        "tokens": {0: "b", 1: "t"},
        "self_k": {1: "b", 3: "p"},
        "self_v": {1: "b", 3: "p"},
        "cross_k": {1: "b", 3: "s"},
        "cross_v": {1: "b", 3: "s"},
        "src_mask": {0: "b", 1: "s"},
    }
    sess = _session(step, inputs(2, 6, 3, 1), names, axes, tmp_path / "d.onnx")
    for shape in ((1, 1, 0, 1), (3, 9, 0, 4), (5, 2, 7, 1)):
        args = inputs(*shape)
        got = sess.run(None, {n: a.detach().numpy() for n, a in zip(names, args, strict=True)})
        want = step(*args)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w.detach().numpy(), atol=1e-4)
