"""End to end on real data: a quick training run must learn something, and its
checkpoint, tokenizer, history, curves and metrics must come out usable."""

import json
import math
from pathlib import Path

import pytest

from attnserve.cli import main
from models.data.jsonl import read_jsonl

pytestmark = pytest.mark.slow


def test_quick_classifier_beats_chance(corpora: Path, tmp_path: Path) -> None:
    run = tmp_path / "sentiment"
    code = main(
        [
            "train",
            "classifier",
            "--quick",
            "--data-dir",
            str(corpora),
            "--out",
            str(run),
            "--max-examples",
            "1500",
            "--epochs",
            "8",
        ]
    )
    assert code == 0
    for name in ("model.pt", "tokenizer.json", "history.json", "curves.png"):
        assert (run / name).is_file(), name
    assert main(["evaluate", str(run), "--split", "valid"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    rows = list(read_jsonl(corpora / "sentiment" / "valid.jsonl"))
    majority = max(sum(r["label"] == lab for r in rows) for lab in ("negative", "positive")) / len(
        rows
    )
    assert metrics["examples"] == len(rows)
    assert metrics["accuracy"] > majority + 0.02, (metrics["accuracy"], majority)
    assert 0 < metrics["macro_f1"] <= 1
    assert sum(map(sum, metrics["confusion_matrix"]["rows_true_cols_pred"])) == len(rows)


def test_quick_translator_learns_and_evaluates(corpora: Path, tmp_path: Path) -> None:
    run = tmp_path / "en-fr"
    code = main(
        [
            "train",
            "translator",
            "--quick",
            "--data-dir",
            str(corpora),
            "--out",
            str(run),
            "--epochs",
            "4",
        ]
    )
    assert code == 0
    history = json.loads((run / "history.json").read_text())
    chance = math.log(2000)  # the quick profile's vocabulary: uniform guessing
    assert history[-1]["valid_loss"] < history[0]["valid_loss"] < chance - 1.0
    assert max(row["valid_bleu"] for row in history) > 2.0
    assert main(["evaluate", str(run), "--split", "test"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for mode in ("greedy", "beam4"):
        assert set(metrics[mode]) >= {"bleu", "chrf", "placeholders_kept", "samples"}
        assert 0 <= metrics[mode]["placeholders_kept"] <= 1
    assert metrics["greedy"]["chrf"] > 5


def test_user_files_train_through_the_cli(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    valid = tmp_path / "valid.csv"
    train.write_text(
        "text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(40))
    )
    valid.write_text("text,label\ngood film,pos\nbad film,neg\n")
    run = tmp_path / "mine"
    assert (
        main(
            [
                "train",
                "classifier",
                "--quick",
                "--train-file",
                str(train),
                "--valid-file",
                str(valid),
                "--out",
                str(run),
                "--epochs",
                "2",
            ]
        )
        == 0
    )
    assert main(["evaluate", str(run), "--data", str(valid)]) == 0
    assert json.loads((run / "metrics.json").read_text())["examples"] == 2
