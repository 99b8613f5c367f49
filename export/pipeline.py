"""``attnserve export``: checkpoint → ONNX graphs → parity → variants → figures → a sealed
version of the model repository.

    1. trace the fp32 graphs (dynamic batch, sequence and cache axes)
    2. derive the int8 (CPU) and fp16 (GPU) variants
    3. parity: every graph at six or more shapes against PyTorch (fp32 within 1e-4,
       every precision free of NaN); the export fails otherwise
    4. verify: greedy and beam-4 translations through the graphs equal the PyTorch
       reference decoder token for token on the first N test sentences
    5. evaluate: test-split figures of each precision, through the service's runtime
    6. measure: int8 against fp32 speed; start-up; the cost of attention outputs
    7. choose the CPU default precision, write config.json and manifest.json, and move
       the version into place
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

from core.hashing import sha256_file
from core.precision import int8_allowed, quality_drop
from export import measure, parity, variants
from export.evaluate import evaluate_version, extra_sets
from export.onnx_export import OPSET, export_classifier, export_translator
from export.recover import recover_run
from export.repository import (
    graph_file,
    model_config,
    next_version,
    publish,
    seal,
    stage,
    write_json,
)
from models import checkpoint
from models.classifier import Classifier
from models.data.corpora import purpose
from models.data.jsonl import read_jsonl
from models.translator import Translator
from runtime.catalog import headline
from runtime.repository import CONFIG, MANIFEST, ModelVersion, validate

PRECISIONS = ("fp32", "int8", "fp16")
# share of sources whose result must not change when they join a running batch at a
# random step beside others (issue 18: 99.5 %; 100 % where numerics allow)
CONTINUOUS_IDENTITY = 0.995
# int8 becomes the CPU default by core.precision's rule (speed and quality against fp32)


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies inside it (manifests are
    read on other machines; an absolute path there says little)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _roles(model: Classifier | Translator) -> list[str]:
    return ["classifier"] if isinstance(model, Classifier) else ["encoder", "decoder_step"]


def corpus_rows(
    meta: dict[str, Any], split: str = "test"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of the corpus split the checkpoint was trained with, checked to be the same
    corpus (its manifest digest) — otherwise the recorded figures would be of other data."""
    data = meta.get("data", {})
    corpus = data.get("corpus_dir")
    if not corpus:
        raise ValueError(
            "the checkpoint was trained on user files: export with --no-evaluate --no-verify"
        )
    folder = Path(corpus)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} is missing: run `attnserve data` first")
    digest = sha256_file(manifest)
    if digest != data.get("manifest_sha256"):
        raise ValueError(
            f"{manifest} differs from the corpus this model was trained on "
            f"(sha256 {digest[:12]}…, trained on {str(data.get('manifest_sha256'))[:12]}…): "
            "rebuild the data with the same recipe, or retrain"
        )
    recorded = json.loads(manifest.read_text())["splits"][split]
    info = {
        "file": _shown(manifest),
        "sha256": digest,
        "recipe": json.loads(manifest.read_text()).get("recipe"),
        f"{split}_split": {
            "file": recorded["file"],
            "rows": recorded["count"],
            "sha256": recorded["sha256"],
        },
    }
    return list(read_jsonl(folder / recorded["file"])), info


def choose_cpu_precision(
    task: str, metrics: dict[str, Any], speed: dict[str, Any] | None
) -> tuple[str, str]:
    """(precision, why) for the CPU default."""
    if "int8" not in metrics or "fp32" not in metrics or not speed or "int8_vs_fp32" not in speed:
        return "fp32", "int8 not both evaluated and timed"
    drop = quality_drop(task, metrics["fp32"]["test"], metrics["int8"]["test"])
    gain = speed["int8_vs_fp32"]
    why = f"int8: {gain:.2f}× fp32 speed, {drop:+.2f} points quality drop"
    if task == "translation" and int8_allowed(gain, drop):
        return "fp32", why + STAYS_FP32
    if int8_allowed(gain, drop):
        return "int8", why
    return "fp32", why


# A translator's CPU default stays fp32 even where int8 would pay: dynamic quantisation
# scales each batch by its own range, so a translation would depend on what shares its batch.
STAYS_FP32 = (
    "; the CPU default stays fp32 all the same: int8's dynamic quantisation scales each "
    "batch by its own range, so a translation would depend on what else shares its batch "
    "(continuous batching, streams and offline runs would differ); `attnserve tune` or "
    "ATTNSERVE_PRECISION=int8 opt in"
)


def export_run(
    run: Path,
    repository: Path,
    name: str | None = None,
    version: int | None = None,
    precisions: tuple[str, ...] = PRECISIONS,
    verify_sentences: int = 200,
    evaluate: bool = True,
    measure_speed: bool = True,
    force: bool = False,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> ModelVersion:
    start = time.monotonic()
    if "fp32" not in precisions:
        raise ValueError("fp32 is the reference every other precision is derived from: keep it")
    if (run / CONFIG).is_file() and (run / MANIFEST).is_file():  # a published version
        log(f"[0/7] {run}: a published version; its weights recovered from its graphs")
        name = name or json.loads((run / CONFIG).read_text())["name"]
        with tempfile.TemporaryDirectory(prefix="attnserve-recovered-") as tmp:
            return export_run(
                recover_run(run, Path(tmp)),
                repository,
                name,
                version,
                precisions,
                verify_sentences,
                evaluate,
                measure_speed,
                force,
                log,
                command,
            )
    model, meta = checkpoint.load(run)
    assert isinstance(model, Classifier | Translator)
    name = name or run.resolve().name
    version = version or next_version(repository, name)
    staging = stage(repository, name, version, force)
    try:
        return _export(
            model,
            meta,
            run,
            repository,
            name,
            version,
            staging,
            precisions,
            verify_sentences,
            evaluate,
            measure_speed,
            log,
            start,
            command,
            force,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _export(
    model: Classifier | Translator,
    meta: dict[str, Any],
    run: Path,
    repository: Path,
    name: str,
    version: int,
    staging: Path,
    precisions: tuple[str, ...],
    verify_sentences: int,
    evaluate: bool,
    measure_speed: bool,
    log: Callable[[str], None],
    start: float,
    command: str | None,
    force: bool,
) -> ModelVersion:
    roles = _roles(model)
    paths = {r: {p: staging / graph_file(r, p) for p in precisions} for r in roles}
    log(f"[1/7] exporting {', '.join(roles)} (fp32, opset {OPSET}) into {staging}")
    if isinstance(model, Classifier):
        export_classifier(model, paths["classifier"]["fp32"])
    else:
        export_translator(model, paths["encoder"]["fp32"], paths["decoder_step"]["fp32"])
    log(f"[2/7] variants: {', '.join(p for p in precisions if p != 'fp32') or 'none'}")
    for role in roles:
        for p in precisions:
            if p != "fp32":
                getattr(variants, p)(paths[role]["fp32"], paths[role][p])

    log("[3/7] parity against PyTorch")
    if isinstance(model, Classifier):
        rows = parity.check_classifier(model, paths["classifier"])
    else:
        rows = parity.check_translator(model, paths["encoder"], paths["decoder_step"])
    log(parity.table(rows))
    parity.require(rows)

    shutil.copy(run / "tokenizer.json", staging / "tokenizer.json")
    description = purpose(meta.get("data", {}))
    config = model_config(model, name, version, list(precisions), meta, description)
    write_json(staging / CONFIG, config)
    info: dict[str, Any] = {
        "name": name,
        "version": version,
        "opset": OPSET,
        "exporter": {
            "method": "torch.onnx.export(dynamo=True)",
            **{pkg: pkg_version(pkg) for pkg in ("torch", "onnx", "onnxscript", "onnxruntime")},
            "python": platform.python_version(),
        },
        "source_checkpoint": {
            "file": _shown(Path(meta.get("recovered_from_path") or run / checkpoint.CHECKPOINT)),
            "sha256": sha256_file(run / checkpoint.CHECKPOINT),
            "epoch": meta.get("epoch"),
            # re-exported: the weights read back out of this published version's graphs
            **({"recovered_from": meta["recovered_from"]} if "recovered_from" in meta else {}),
        },
        "parity": {"tolerance": parity.TOLERANCE, "rows": [r.as_dict() for r in rows]},
        "command": command,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    seal(staging, info)
    mv = validate(staging, name, version)

    rows_test: list[dict[str, Any]] = []
    if evaluate or (verify_sentences and isinstance(model, Translator)):
        rows_test, data_manifest = corpus_rows(meta)
        info["data_manifest"] = data_manifest
    if verify_sentences and isinstance(model, Translator):
        from export.identity import compare, continuous
        from runtime.translator import TranslatorRuntime

        log(f"[4/7] greedy and beam-4 through ONNX vs PyTorch on {verify_sentences} test sentences")
        texts = [r["source"] for r in rows_test[:verify_sentences]]
        ident = compare(model, TranslatorRuntime(mv, "fp32"), texts)
        info["decoder_identity"] = ident
        log(f"      {ident}")
        bad = {k: v for k, v in ident.items() if v["identical"] != v["sentences"]}
        if bad:
            raise parity.ParityError(f"ONNX decoding differs from the PyTorch reference: {bad}")
        runtime = TranslatorRuntime(mv, "fp32")
        if runtime.ragged:
            log("      the same sentences joining a running batch at random steps, beams 1 and 4")
            sched = continuous(runtime, texts)
            info["decoder_identity"]["continuous"] = sched
            log(f"      {sched}")
            if sched["identical"] < CONTINUOUS_IDENTITY * sched["sentences"]:
                raise parity.ParityError(
                    "decoding depends on what else runs beside it: "
                    f"{sched['identical']} of {sched['sentences']} identical under a random "
                    f"schedule (want ≥ {CONTINUOUS_IDENTITY:.1%}): {sched}"
                )
    if evaluate:
        metrics = {}
        extra = extra_sets(meta, mv.task)
        for p in precisions:
            sets = ", ".join(f"{k} ({len(v)})" for k, v in extra.items())
            log(
                f"[5/7] test-split figures, {p} ({len(rows_test)} rows){'; ' + sets if sets else ''}"
            )
            metrics[p] = evaluate_version(mv, p, rows_test, extra)
            log(f"      {headline(mv.task, metrics[p]['test'])}")
            for k in extra:
                log(f"      {k}: {headline(mv.task, metrics[p][k])}")
        info["metrics"] = metrics
    if measure_speed and rows_test:
        log("[6/7] speed: int8 against fp32 on this CPU; start-up; attention outputs")
        bench_rows = rows_test[: 1000 if isinstance(model, Classifier) else 200]
        cpu = [p for p in precisions if p != "fp16"]  # fp16 is for the GPU
        speed = measure.precision_speed(mv, cpu, bench_rows)
        info["measurements"] = {
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
            "speed": speed,
        }
        with tempfile.TemporaryDirectory() as tmp:
            info["measurements"]["startup"] = [
                measure.startup(paths[r]["fp32"], Path(tmp)) for r in roles
            ]
        if isinstance(model, Translator):
            info["measurements"]["decoder_step"] = measure.decoder_step_speed(
                {p: paths["decoder_step"][p] for p in cpu},
                (model.cfg.dec_layers, model.cfg.n_heads, model.head_dim),
                model.cfg.vocab_size,
            )
        if isinstance(model, Classifier):
            with tempfile.TemporaryDirectory() as tmp:
                lean = export_classifier(model, Path(tmp) / "lean.onnx", with_attention=False)
                from runtime.classifier import ClassifierRuntime

                ids = ClassifierRuntime(mv, "fp32").encode([r["text"] for r in bench_rows])
                info["measurements"]["attention_outputs"] = measure.attention_output_cost(
                    paths["classifier"]["fp32"], lean, ids
                )
        log(f"      {info['measurements']}")
    if evaluate:
        choice, why = choose_cpu_precision(
            mv.task, info["metrics"], info.get("measurements", {}).get("speed")
        )
        config["precision"]["cpu"] = choice
        config["precision"]["why"] = why
        write_json(staging / CONFIG, config)
    info["export_seconds"] = round(time.monotonic() - start, 1)
    seal(staging, info)
    final = publish(staging, repository, name, version, force)
    mv = validate(final, name, version)
    log(
        f"[7/7] {final}: {', '.join(sorted(mv.manifest['files']))}; CPU default {config['precision']['cpu']}"
    )
    return mv
