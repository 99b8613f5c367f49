"""A copy of the committed en-fr version whose decoder step takes per-row positions and a
cache mask (the graphs exported today): its weights recovered from the committed graphs
(``export/recover.py``, checked against them), traced again, fp32 only, sealed.
It translates exactly as the committed version does, and serves with continuous batching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from export.onnx_export import export_translator
from export.recover import load
from export.repository import seal
from tests.support.server import REPOSITORY


def ragged_repository(root: Path, name: str = "en-fr") -> Path:
    """``root`` as a model repository holding only ``name``'s latest version, re-exported."""
    version = max(int(p.name) for p in (REPOSITORY / name).iterdir() if p.name.isdigit())
    src, dst = REPOSITORY / name / str(version), root / name / str(version)
    dst.mkdir(parents=True)
    for f in ("config.json", "tokenizer.json"):
        shutil.copy(src / f, dst / f)
    model, _, _ = load(REPOSITORY, name, version)
    export_translator(model, dst / "encoder.onnx", dst / "decoder_step.onnx")
    cfg = json.loads((dst / "config.json").read_text())
    cfg["graphs"] = {g: {"fp32": f"{g}.onnx"} for g in ("encoder", "decoder_step")}
    cfg["precision"] = {**cfg["precision"], "cpu": "fp32", "cuda": "fp32"}
    inputs = cfg["io"]["decoder_step"]["inputs"]
    cfg["io"]["decoder_step"]["inputs"] = [*inputs, "positions", "past_mask"]
    (dst / "config.json").write_text(json.dumps(cfg, indent=1))
    manifest = json.loads((src / "manifest.json").read_text())
    manifest.pop("files")
    manifest["note"] = f"{name}/{version} re-exported for the tests with the ragged decoder step"
    seal(dst, manifest)
    return root
