"""`attnserve export` end to end on small models over the real corpora: graphs, parity,
decoding identity through ONNX, figures of every precision, a sealed repository version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnserve.cli import main
from export.pipeline import choose_cpu_precision, export_run
from models.data.corpora import PURPOSES, purpose
from runtime.repository import load, validate

pytestmark = pytest.mark.slow


def test_classifier_export_writes_a_sealed_evaluated_version(
    classifier_run: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    mv = export_run(classifier_run, repo, log=lambda _: None, command="attnserve export x")
    assert (mv.name, mv.version, mv.path) == ("sentiment", 1, repo / "sentiment" / "1")
    files = set(mv.manifest["files"])
    assert files == {
        "classifier.onnx",
        "classifier.int8.onnx",
        "classifier.fp16.onnx",
        "tokenizer.json",
        "config.json",
    }
    m = mv.manifest
    assert m["opset"] == 18 and m["exporter"]["method"].startswith("torch.onnx.export")
    assert m["command"] == "attnserve export x"
    assert m["source_checkpoint"]["sha256"] and m["data_manifest"]["test_split"]["rows"] == 1190
    assert len({r["case"] for r in m["parity"]["rows"]}) >= 6
    for p in ("fp32", "int8", "fp16"):
        test = m["metrics"][p]["test"]
        assert test["examples"] == 1190 and 0 <= test["accuracy"] <= 1
        assert m["metrics"][p]["sample"]["examples"] == 200
    speed = m["measurements"]["speed"]
    assert speed["fp32"] > 0 and speed["int8"] > 0 and "int8_vs_fp32" in speed
    assert "full_graph_fetch_all_vs_logits_only" in m["measurements"]["attention_outputs"]
    assert mv.config["precision"]["cpu"] in ("fp32", "int8")
    assert mv.config["labels"] == ["negative", "positive"]
    assert mv.config["description"] == PURPOSES["sentiment"]  # what the model is for
    assert not list((repo / "sentiment").glob(".staging-*"))


def test_translator_export_decodes_like_pytorch_through_onnx(
    translator_run: Path, tmp_path: Path
) -> None:
    mv = export_run(
        translator_run,
        tmp_path / "repo",
        precisions=("fp32", "int8"),
        verify_sentences=60,
        measure_speed=False,
        log=lambda _: None,
    )
    ident = mv.manifest["decoder_identity"]
    assert ident["greedy"] == {"sentences": 60, "identical": 60}
    assert ident["beam4"] == {"sentences": 60, "identical": 60}
    # rows at different steps share the decoder step: joining a running batch at random
    # steps, beams 1 and 4 mixed, changes no translation
    assert "positions" in mv.config["io"]["decoder_step"]["inputs"]
    assert ident["continuous"] == {"sentences": 60, "identical": 60}
    assert set(mv.config["graphs"]) == {"encoder", "decoder_step"}
    assert mv.config["decoding"]["beam_size"] == 4
    assert mv.config["description"] == PURPOSES["en-fr"]
    for p in ("fp32", "int8"):
        assert {"greedy", "beam4"} <= set(mv.manifest["metrics"][p]["test"])
    assert mv.config["precision"]["cpu"] == "fp32"  # not timed: int8 cannot be chosen


def test_a_model_of_the_user_s_own_data_says_so() -> None:
    said = purpose({"train_file": "mine.csv", "valid_file": "v.csv"})
    assert said == "Trained on the user's own data (mine.csv, v.csv)."
    assert purpose({"corpus_dir": "/x/data/en-fr"}) == PURPOSES["en-fr"]


def test_cli_numbers_versions_and_refuses_to_overwrite(
    classifier_run: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    args = ["export", str(classifier_run), "--repository", str(repo), "--precisions", "fp32"]
    quick = [*args, "--no-evaluate", "--no-measure"]
    assert main(quick) == 0
    assert main(quick) == 0  # a second export is version 2
    assert load(repo, "sentiment").version == 2
    assert main([*quick, "--version", "1"]) == 2  # exists, no --force
    assert main([*quick, "--version", "1", "--force"]) == 0
    assert main([*args, "--precisions", "int8"]) == 2  # fp32 is the reference
    manifest = json.loads((repo / "sentiment" / "1" / "manifest.json").read_text())
    assert manifest["command"].startswith("attnserve export ")
    assert validate(repo / "sentiment" / "1").precisions == ["fp32"]


def test_cpu_precision_rule() -> None:
    fp32 = {"test": {"accuracy": 0.80}}
    close, far = {"test": {"accuracy": 0.795}}, {"test": {"accuracy": 0.78}}
    task = "classification"
    assert (
        choose_cpu_precision(task, {"fp32": fp32, "int8": close}, {"int8_vs_fp32": 1.3})[0]
        == "int8"
    )
    assert (
        choose_cpu_precision(task, {"fp32": fp32, "int8": close}, {"int8_vs_fp32": 1.02})[0]
        == "fp32"
    )
    assert (
        choose_cpu_precision(task, {"fp32": fp32, "int8": far}, {"int8_vs_fp32": 1.5})[0] == "fp32"
    )
    assert choose_cpu_precision(task, {"fp32": fp32}, None)[0] == "fp32"
    # a translator stays in fp32: int8 would make a translation depend on its batch
    bleu = {"test": {"beam4": {"bleu": 40.0, "chrf": 60.0}}}
    precision, why = choose_cpu_precision(
        "translation", {"fp32": bleu, "int8": bleu}, {"int8_vs_fp32": 1.3}
    )
    assert precision == "fp32" and "depend on what else shares its batch" in why
