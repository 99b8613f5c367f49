"""A published model version back as a PyTorch module: for the baselines that run PyTorch,
for CTranslate2 on the same weights, and to re-export a version with today's graphs
(``attnserve export model_repository/NAME/VERSION``, ``recover_run``).

A trained run folder (``runs/<model>``, with ``model.pt``) is used when given. Otherwise the
weights are read back out of the committed ONNX graphs: ``config.json`` rebuilds the
architecture, each parameter is found by name, or — for Linear weights the exporter stored
transposed under a generated name — through the MatMul whose bias Add names it, through
the parameter it is tied to, or by a unique shape (an ensemble's members: by shape in the
graph's order). The result is then checked against ONNX Runtime on real inputs (max abs
difference ≤ 1e-4) before anyone times it, so a wrong mapping cannot pass unnoticed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from core.hashing import sha256_file
from core.text.inputs import classifier_input, translator_source
from core.text.tokenizer import BOS_ID, SubwordTokenizer
from models import checkpoint
from models.translator import Translator
from runtime.repository import versions
from runtime.translator import static_step_feeds

GRAPHS = {"classification": ("classifier",), "translation": ("encoder", "decoder_step")}
TOLERANCE = 1e-4


def _onnx_state(
    folder: Path, graphs: tuple[str, ...], wanted: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    inits: dict[str, np.ndarray] = {}
    bias_of: dict[str, str] = {}  # initializer fed to a MatMul → parameter prefix of its bias
    for graph in graphs:
        g = onnx.load(str(folder / f"{graph}.onnx")).graph

        def scoped(name: str, graph: str = graph) -> str:  # generated names repeat across graphs
            return name if name.startswith("model.") else f"{graph}/{name}"

        inits.update({scoped(i.name): numpy_helper.to_array(i) for i in g.initializer})
        matmul_out = {n.output[0]: scoped(n.input[1]) for n in g.node if n.op_type == "MatMul"}
        for n in g.node:
            if n.op_type != "Add":
                continue
            for a, b in (n.input, reversed(n.input)):
                if a in matmul_out and b.startswith("model.") and b.endswith(".bias"):
                    bias_of[matmul_out[a]] = b.removeprefix("model.").removesuffix(".bias")
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key in wanted:  # 1. by name
        if f"model.{key}" in inits:
            state[key] = torch.from_numpy(inits[f"model.{key}"].copy())
            used.add(f"model.{key}")
    for init, prefix in bias_of.items():  # 2. Linear weights stored transposed
        key = f"{prefix}.weight"
        shape = tuple(wanted[key].shape) if key in wanted else None
        if key not in state and init in inits and inits[init].T.shape == shape:
            state[key] = torch.from_numpy(inits[init].T.copy())
            used.add(init)
    for key, tensor in wanted.items():  # 3. tied weights (one storage, several names)
        twin = next((k for k in state if wanted[k].data_ptr() == tensor.data_ptr()), None)
        if key not in state and twin is not None:
            state[key] = state[twin]
    for key, tensor in wanted.items():  # 4. what is left, by a unique shape
        if key in state:
            continue
        shape = tuple(tensor.shape)
        hits = [
            (n, a)
            for n, a in inits.items()
            if n not in used and a.ndim == 2 and a.shape[::-1] == shape
        ] or [(n, a) for n, a in inits.items() if n not in used and a.shape == shape]
        # an ensemble's members each have one: as many left of the shape as parameters
        # still wanted of it, taken in the graph's order (the check below catches a swap)
        alike = [k for k, t in wanted.items() if k not in state and tuple(t.shape) == shape]
        if len(hits) != 1 and len(hits) != len(alike):
            raise LookupError(
                f"cannot find {key} {shape} in the ONNX graphs ({len(hits)} candidates)"
            )
        name, array = hits[0]
        state[key] = torch.from_numpy((array.T if array.shape != shape else array).copy())
        used.add(name)
    return state


def load(
    repository: Path, name: str, version: int | None = None, run: Path | None = None
) -> tuple[nn.Module, SubwordTokenizer, dict[str, Any]]:
    """(model in eval mode, tokenizer, config.json) of a served model version (the latest
    when ``version`` is None)."""
    version = version or max(versions(repository, name))
    folder = repository / name / str(version)
    config = json.loads((folder / "config.json").read_text())
    tokenizer = SubwordTokenizer.load(folder / config["tokenizer"])
    if run is not None:
        model, _ = checkpoint.load(run)
        return model.eval(), tokenizer, config
    task = "classifier" if config["task"] == "classification" else "translator"
    model = checkpoint.build(task, config["architecture"])
    wanted = model.state_dict()
    model.load_state_dict(_onnx_state(folder, GRAPHS[config["task"]], wanted))
    model.eval()
    _check(model, tokenizer, config, folder)
    return model, tokenizer, config


def _check(model: nn.Module, tok: SubwordTokenizer, config: dict[str, Any], folder: Path) -> None:
    """The rebuilt module against ONNX Runtime on real-looking inputs."""
    import onnxruntime as ort

    texts = ["A moving, beautifully acted film.", "Dull.", "The file {name} could not be deleted."]
    ids = [tok.encode_masked(t)[0] for t in texts]
    if config["task"] == "classification":
        rows = [classifier_input(i, int(config["max_input_tokens"])) for i in ids]
    else:
        rows = [translator_source(i, int(config["max_input_tokens"])) for i in ids]
    width = max(len(r) for r in rows)
    x = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(x)
    for i, r in enumerate(rows):
        x[i, : len(r)], mask[i, : len(r)] = r, 1
    if config["task"] == "classification":
        sess = ort.InferenceSession(
            str(folder / "classifier.onnx"), providers=["CPUExecutionProvider"]
        )
        want = sess.run(["logits"], {"input_ids": x, "attention_mask": mask})[0]
        with torch.no_grad():
            got = model(torch.from_numpy(x), torch.from_numpy(mask))[0].numpy()
    else:  # the encoder, then one decoder step from BOS with an empty cache
        cpu = ["CPUExecutionProvider"]
        enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=cpu)
        dec = ort.InferenceSession(str(folder / "decoder_step.onnx"), providers=cpu)
        k, v = enc.run(["cross_k", "cross_v"], {"src_ids": x, "src_mask": mask})
        layers, _, heads, _, head_dim = k.shape
        empty = np.zeros((layers, len(rows), heads, 0, head_dim), dtype=np.float32)
        bos = np.full((len(rows), 1), BOS_ID, dtype=np.int64)
        feeds = {"tokens": bos, "self_k": empty, "self_v": empty, "cross_k": k, "cross_v": v}
        logits = dec.run(["logits"], static_step_feeds({**feeds, "src_mask": mask}, dec))[0]
        assert isinstance(model, Translator)
        with torch.no_grad():
            tk, tv, _ = model.encode(torch.from_numpy(x), torch.from_numpy(mask))
            e = torch.from_numpy(empty)
            step = model.decode_step(torch.from_numpy(bos), e, e, tk, tv, torch.from_numpy(mask))
        want = np.concatenate([logits.ravel(), k.ravel()])
        got = np.concatenate([step[0].numpy().ravel(), tk.numpy().ravel()])
    diff = float(np.abs(want - got).max())
    if not diff <= TOLERANCE:
        raise RuntimeError(
            f"{folder}: weights read back from ONNX differ from ONNX Runtime by {diff:.2e} "
            f"(limit {TOLERANCE}); pass the trained run folder instead"
        )


def recover_run(folder: Path, out: Path) -> Path:
    """A run folder (``model.pt`` with its meta, ``tokenizer.json``) in ``out`` holding the
    weights of the published version ``folder`` (``REPOSITORY/NAME/VERSION``), for
    ``attnserve export`` to trace again with today's graphs. The meta points at the corpus
    the version was evaluated on (its manifest's ``data_manifest``, checked by digest when
    the export evaluates) and says where the weights came from."""
    config = json.loads((folder / "config.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    model, _, _ = load(folder.parent.parent, folder.parent.name, int(folder.name))
    data = manifest.get("data_manifest") or {}
    corpus = Path(data["file"]).parent if data.get("file") else None
    if corpus is not None and not corpus.is_dir():  # recorded on another machine
        corpus = Path("data") / corpus.name  # where `attnserve data` builds it
    digest = data.get("sha256")
    local = None if corpus is None else corpus / "manifest.json"
    if local is not None and local.is_file():
        # the same test split (by digest) is the same evaluation, whatever else the local
        # manifest records (package paths, a rebuilt training split)
        test = json.loads(local.read_text())["splits"]["test"]
        if test["sha256"] == (data.get("test_split") or {}).get("sha256"):
            digest = sha256_file(local)
    meta: dict[str, Any] = {
        "epoch": (manifest.get("source_checkpoint") or {}).get("epoch"),
        "recovered_from": f"{config['name']}/{config['version']}",
        "recovered_from_path": str(folder),
        "data": {
            "corpus_dir": None if corpus is None else str(corpus),
            "manifest_sha256": digest,
        },
    }
    if "labels" in config:
        meta["labels"] = config["labels"]
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / config["tokenizer"], out / "tokenizer.json")
    checkpoint.save(out / checkpoint.CHECKPOINT, model, meta)
    return out
