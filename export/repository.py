"""Write a version folder of the model repository (read back by ``runtime.repository``).

A version is staged in a hidden folder beside its final place and renamed into place
only when it is complete, so a crash never leaves a half-written version that the
service would pick up as the latest.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from core.text.placeholders import MAX_PLACEHOLDERS, PLACEHOLDER_RE
from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, SENTINEL_IDS, UNK_ID
from export.graphs import CLASSIFIER, ENCODER, GraphSpec, decoder_step_spec
from models.classifier import Classifier
from models.translator import Translator
from runtime.repository import CONFIG, FORMAT, MANIFEST, versions

GRAPH_FILES = {
    "classifier": "classifier{}.onnx",
    "encoder": "encoder{}.onnx",
    "decoder_step": "decoder_step{}.onnx",
}


def graph_file(role: str, precision: str) -> str:
    return GRAPH_FILES[role].format("" if precision == "fp32" else f".{precision}")


def next_version(root: Path, name: str) -> int:
    if not (root / name).is_dir():
        return 1
    have = versions(root, name)
    return (have[-1] + 1) if have else 1


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _io(spec: GraphSpec) -> dict[str, list[str]]:
    return {"inputs": list(spec.inputs), "outputs": list(spec.outputs)}


def model_config(
    model: Classifier | Translator,
    name: str,
    version: int,
    precisions: list[str],
    meta: dict[str, Any],
    description: str,
) -> dict[str, Any]:
    """config.json: everything the service needs to feed the graphs and read them."""
    common: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "description": description,
        "tokenizer": "tokenizer.json",
        "special_tokens": {
            "pad": PAD_ID,
            "bos": BOS_ID,
            "eos": EOS_ID,
            "unk": UNK_ID,
            "placeholders": list(SENTINEL_IDS),
        },
        "placeholders": {"pattern": PLACEHOLDER_RE.pattern, "max": MAX_PLACEHOLDERS},
        "max_input_tokens": model.cfg.max_len,
        "precision": {"cpu": "fp32", "cuda": "fp16" if "fp16" in precisions else "fp32"},
        "architecture": dataclasses.asdict(model.cfg),
    }
    if isinstance(model, Classifier):
        return {
            **common,
            "task": "classification",
            "labels": list(meta["labels"]),
            "input_rule": "placeholders masked; the first max_input_tokens tokens; "
            "an empty text is one <unk>",
            "graphs": {"classifier": {p: graph_file("classifier", p) for p in precisions}},
            "io": {"classifier": _io(CLASSIFIER)},
        }
    return {
        **common,
        "task": "translation",
        "input_rule": "placeholders masked to <phN>; the first max_input_tokens - 1 tokens, "
        "then </s>",
        "graphs": {
            role: {p: graph_file(role, p) for p in precisions}
            for role in ("encoder", "decoder_step")
        },
        "io": {
            "encoder": _io(ENCODER),
            "decoder_step": _io(decoder_step_spec(model.cfg.dec_layers)),
        },
        "cache": {
            "layers": model.cfg.dec_layers,
            "heads": model.cfg.n_heads,
            "head_dim": model.head_dim,
        },
        "decoding": {
            "beam_size": 4,
            "length_penalty": 1.0,
            "max_length": model.cfg.max_len - 1,
            "constrain_placeholders": True,
            "block_repeats": True,
            "block_loops": True,
            "length_rule": "new tokens ≤ min(max_length, 2 × source tokens + 10), </s> included",
        },
    }


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }


def stage(root: Path, name: str, version: int, force: bool = False) -> Path:
    final = root / name / str(version)
    if final.exists() and not force:
        raise FileExistsError(f"{final} exists: pass --version N for a new one, or --force")
    staging = root / name / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, root: Path, name: str, version: int, force: bool = False) -> Path:
    final = root / name / str(version)
    if final.exists():
        if not force:  # appeared while this export ran
            raise FileExistsError(f"{final} was created meanwhile: pass --force to replace it")
        shutil.rmtree(final)
    staging.rename(final)
    return final


def seal(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write manifest.json listing every other file in ``folder`` with its digest."""
    manifest = {"format": FORMAT, **manifest, "files": file_entries(folder)}
    assert CONFIG in manifest["files"], "config.json must be written before the manifest"
    write_json(folder / MANIFEST, manifest)
    return manifest


def retire_precisions(folder: Path, keep: tuple[str, ...], why: str) -> dict[str, Any]:
    """Take the graphs of every precision but ``keep`` out of a published version (to keep
    the repository small): their files go, ``config.json`` lists what stays (a device
    whose default was retired falls back to fp32, or the first kept), and the manifest, sealed again, says
    what was retired, when and why. Its recorded figures stay as they were measured."""
    config = json.loads((folder / CONFIG).read_text())
    manifest = json.loads((folder / MANIFEST).read_text())
    gone: list[str] = []
    for role, by_precision in config["graphs"].items():
        for precision in [p for p in by_precision if p not in keep]:
            gone.append(by_precision.pop(precision))
        if not by_precision:
            raise ValueError(f"{folder}: keeping {keep} would leave no {role} graph")
    fallback = "fp32" if "fp32" in keep else keep[0]
    for device, precision in config["precision"].items():
        if device != "why" and precision not in keep:
            config["precision"][device] = fallback
    for file in gone:
        (folder / file).unlink()
    write_json(folder / CONFIG, config)
    retired = manifest.get("retired", [])
    retired.append(
        {"files": sorted(gone), "when": datetime.now(UTC).isoformat(timespec="seconds"), "why": why}
    )
    manifest.pop("files", None)
    manifest.pop("format", None)
    return seal(folder, {**manifest, "retired": retired})


def restore_precisions(folder: Path, into: Path, precisions: tuple[str, ...]) -> Path:
    """A copy of the version in ``folder`` at ``into`` with the graphs of ``precisions``
    it lacks (retired to keep the repository small, say) built again from its fp32 graphs,
    as the export builds them; ``config.json`` lists them and the manifest is sealed again.
    For a benchmark or a test of a precision the repository no longer holds."""
    from export import variants

    shutil.copytree(folder, into)
    config = json.loads((into / CONFIG).read_text())
    for role, by_precision in config["graphs"].items():
        for precision in precisions:
            if precision not in by_precision:
                by_precision[precision] = graph_file(role, precision)
                build = getattr(variants, precision)
                build(into / by_precision["fp32"], into / by_precision[precision])
    write_json(into / CONFIG, config)
    manifest = json.loads((into / MANIFEST).read_text())
    seal(into, {k: v for k, v in manifest.items() if k not in ("format", "files")})
    return into
