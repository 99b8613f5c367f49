"""The model repository loader refuses every kind of damage, naming the file and the fault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export.pipeline import export_run
from export.repository import seal
from runtime.repository import RepositoryError, load, models, validate, versions


@pytest.fixture(scope="module")
def exported(classifier_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    export_run(
        classifier_run,
        repo,
        precisions=("fp32", "int8"),
        verify_sentences=0,
        evaluate=False,
        measure_speed=False,
        log=lambda _: None,
    )
    return repo


@pytest.fixture
def repo(exported: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(exported, copy)
    return copy


def _version(repo: Path) -> Path:
    return repo / "sentiment" / "1"


def test_a_whole_version_loads(repo: Path) -> None:
    mv = load(repo, "sentiment")
    assert (mv.name, mv.version, mv.task) == ("sentiment", 1, "classification")
    assert mv.precisions == ["fp32", "int8"]
    assert mv.graph("classifier", "int8").name == "classifier.int8.onnx"
    with pytest.raises(RepositoryError, match="no fp16 classifier graph"):
        mv.graph("classifier", "fp16")
    assert models(repo) == ["sentiment"] and mv.unlisted == []


def test_the_latest_version_is_served_unless_pinned(repo: Path) -> None:
    shutil.copytree(_version(repo), repo / "sentiment" / "10")
    shutil.copytree(_version(repo), repo / "sentiment" / "2")
    for other in ("notes", "0", "007"):  # not versions: ignored
        (repo / "sentiment" / other).mkdir()
    assert versions(repo, "sentiment") == [1, 2, 10]
    assert load(repo, "sentiment").version == 10
    assert load(repo, "sentiment", 2).version == 2
    with pytest.raises(RepositoryError, match=r"no version 3 \(versions: 1, 2, 10\)"):
        load(repo, "sentiment", 3)


def test_unknown_model_and_missing_repository(repo: Path) -> None:
    with pytest.raises(RepositoryError, match=r"no model 'en-fr'.*models there: sentiment"):
        load(repo, "en-fr")
    with pytest.raises(RepositoryError, match="does not exist"):
        models(repo / "nowhere")
    (repo / "empty").mkdir()
    with pytest.raises(RepositoryError, match="has no version folders"):
        load(repo, "empty")


def test_a_missing_file_is_named(repo: Path) -> None:
    (_version(repo) / "classifier.int8.onnx").unlink()
    with pytest.raises(RepositoryError, match=r"classifier\.int8\.onnx: missing"):
        load(repo, "sentiment")


def test_a_truncated_file_is_named(repo: Path) -> None:
    path = _version(repo) / "classifier.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RepositoryError, match=r"classifier\.onnx: truncated: 1000 bytes"):
        load(repo, "sentiment")


def test_an_altered_byte_is_caught(repo: Path) -> None:
    path = _version(repo) / "classifier.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RepositoryError, match=r"classifier\.onnx: altered: sha256"):
        load(repo, "sentiment")


def test_an_edited_config_is_caught(repo: Path) -> None:
    path = _version(repo) / "config.json"
    config = json.loads(path.read_text())
    config["labels"] = ["positive", "negative"]  # same size, other meaning
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    with pytest.raises(RepositoryError, match=r"config\.json: altered"):
        load(repo, "sentiment")


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "manifest.json is missing"), ("{not json", "not valid JSON"), ("[1]", "JSON object")],
)
def test_a_broken_manifest_is_refused(repo: Path, content: str | None, message: str) -> None:
    path = _version(repo) / "manifest.json"
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with pytest.raises(RepositoryError, match=message):
        validate(_version(repo))


def test_other_placeholder_rules_are_refused(repo: Path) -> None:
    folder = _version(repo)
    config = json.loads((folder / "config.json").read_text())
    config["placeholders"]["pattern"] = r"\{\w+\}"
    (folder / "config.json").write_text(json.dumps(config))
    manifest = json.loads((folder / "manifest.json").read_text())
    seal(folder, {k: v for k, v in manifest.items() if k not in ("files", "format")})
    with pytest.raises(RepositoryError, match="other placeholder rules"):
        validate(folder)


def test_a_graph_missing_from_the_manifest_is_refused(repo: Path) -> None:
    folder = _version(repo)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["classifier.int8.onnx"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RepositoryError, match=r"classifier\.int8\.onnx' is not in the manifest"):
        validate(folder)


def test_unlisted_files_are_reported_not_fatal(repo: Path) -> None:
    (_version(repo) / "README.txt").write_text("notes")
    assert load(repo, "sentiment").unlisted == ["README.txt"]


def test_a_malformed_manifest_entry_is_refused(repo: Path) -> None:
    folder = _version(repo)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["classifier.onnx"]["bytes"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        RepositoryError, match=r"entry 'classifier\.onnx' needs 'sha256' and 'bytes'"
    ):
        validate(folder)
