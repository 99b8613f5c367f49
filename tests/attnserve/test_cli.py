import subprocess
import sys
from pathlib import Path

import pytest

from attnserve.cli import main


def test_help_lists_the_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "attnserve.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for cmd in ("data", "train", "evaluate"):
        assert cmd in out.stdout


def test_bad_user_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("body,label\nhi,a\n")
    code = main(
        [
            "train",
            "classifier",
            "--train-file",
            str(bad),
            "--valid-file",
            str(bad),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 2
    assert f"{bad}:1: no text column" in capsys.readouterr().err


def test_train_without_data_says_to_run_data(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="attnserve data"):
        main(["train", "translator", "--data-dir", str(tmp_path)])


def test_evaluate_without_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "attnserve train" in capsys.readouterr().err
