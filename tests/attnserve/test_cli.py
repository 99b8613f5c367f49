import re
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


def _tiny(tmp_path: Path) -> list[str]:
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"good {i},pos\nbad {i},neg\n" for i in range(10)))
    return ["--train-file", str(data), "--valid-file", str(data), "--out", str(tmp_path / "run")]


def test_zero_epochs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--epochs must be at least 1"):
        main(["train", "classifier", "--epochs", "0", *_tiny(tmp_path)])


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "classifier", "--device", "cuda", *_tiny(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_fused_composition_gets_two_branches_by_default(tmp_path: Path) -> None:
    args = [
        "train",
        "classifier",
        "--quick",
        "--epochs",
        "1",
        "--composition",
        "fused",
        *_tiny(tmp_path),
    ]
    assert main(args) == 0
    from models import checkpoint

    model, _ = checkpoint.load(tmp_path / "run")
    assert model.cfg.composition == "fused" and tuple(model.cfg.scores) == ("dot", "additive")


def test_every_option_of_every_command_has_help() -> None:
    import argparse

    from attnserve.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings[0] if action.option_strings else action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction)
        and not action.help
        and action.option_strings  # positionals are named in the usage line
    ]
    assert not missing, f"options without help text: {missing}"


def test_the_commands_the_readme_lists_are_the_cli_s() -> None:
    import argparse

    from attnserve.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^attnserve (\w+)\s", readme, re.M))
    assert listed == set(commands.choices), sorted(set(commands.choices) ^ listed)


def test_data_help_names_docs_a_clone_has() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "attnserve.cli", "data", "--help"], capture_output=True, text=True
    )
    assert "docs/data.md" in out.stdout and "shared/" not in out.stdout
    assert (Path(__file__).resolve().parents[2] / "docs" / "data.md").is_file()


def test_a_side_that_is_not_installed_is_named_with_what_to_install() -> None:
    """The serving image has no models/ or export/: their commands say so, the rest work."""
    code = (
        "import sys\n"
        "sys.modules['models'] = sys.modules['export'] = None  # as in the serving image\n"
        "from attnserve.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code, *a], capture_output=True, text=True, timeout=60
    )
    refused = run("train", "classifier")
    assert refused.returncode == 2
    assert "does not have models/" in refused.stderr and "pip install '.[train]'" in refused.stderr
    listed = run("--help")
    assert listed.returncode == 0 and all(c in listed.stdout for c in ("train", "serve", "bench"))
    assert run("serve", "--settings").returncode == 0


def test_only_the_command_s_own_side_is_imported() -> None:
    code = (
        "import sys\n"
        "from attnserve.cli import build_parser\n"
        "build_parser(['health']).parse_args(['health', '--timeout', '1'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'models', 'export', 'benchmarks', 'runtime', 'service', 'torch'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['service']", out.stdout + out.stderr


def test_seeds_train_an_ensemble_that_averages_its_members(tmp_path: Path) -> None:
    import torch

    from models import checkpoint
    from models.classifier import ClassifierEnsemble

    args = ["train", "classifier", "--quick", "--epochs", "1", "--seeds", "3,4", *_tiny(tmp_path)]
    assert main(args) == 0
    run = tmp_path / "run"
    ensemble, meta = checkpoint.load(run)
    assert isinstance(ensemble, ClassifierEnsemble) and ensemble.cfg.members == 2
    assert [m["seed"] for m in meta["members"]] == [3, 4] and 0 <= meta["valid_accuracy"] <= 1
    ids = torch.randint(20, 60, (3, 7))
    mask = torch.ones_like(ids)
    probs = [
        torch.softmax(checkpoint.load(run / f"member-{s}")[0](ids, mask)[0], -1) for s in (3, 4)
    ]
    logits, layers, _ = ensemble(ids, mask)
    assert torch.allclose(torch.softmax(logits, -1), (probs[0] + probs[1]) / 2, atol=1e-6)
    assert len(layers) == 2 * ensemble.cfg.n_attn_layers and not torch.equal(probs[0], probs[1])
    for bad, said in (("3", "at least two different"), ("3,x", "integers"), ("3,3", "different")):
        with pytest.raises(SystemExit, match=said):
            main([*args[:6], bad, *_tiny(tmp_path)])
