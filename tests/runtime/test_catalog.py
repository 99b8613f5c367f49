"""What the repository holds, read from disk: valid versions with their figures, and the
fault that stops a damaged one."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.catalog import describe, headline
from tests.support.server import REPOSITORY


def test_the_committed_models_are_described(tmp_path: Path) -> None:
    entries = {e["name"]: e for e in describe(REPOSITORY)}
    assert set(entries) == {"sentiment", "en-fr"}
    s = entries["sentiment"]
    assert s["state"] == "valid" and s["task"] == "classification" and s["description"]
    assert s["bytes"] == sum(s["files"].values()) > 0
    assert set(s["test_metrics"]["fp32"]) == {"accuracy", "macro_f1"}
    assert "greedy_bleu" in entries["en-fr"]["test_metrics"]["fp32"]


def test_a_damaged_version_is_unavailable_and_says_why(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPOSITORY / "sentiment", repo / "sentiment")
    latest = max(int(p.name) for p in (repo / "sentiment").iterdir() if p.name.isdigit())
    (repo / "sentiment" / str(latest) / "config.json").write_text("{not json")
    (entry,) = describe(repo)
    assert entry["state"] == "unavailable" and "config.json" in entry["error"]


def test_headline_figures_are_rounded_per_task() -> None:
    assert headline("classification", {"accuracy": 0.912345, "loss": 0.3}) == {"accuracy": 0.9123}
    test = {"greedy": {"bleu": 31.456, "chrf": 55.0, "placeholders_kept": 0.99876}}
    assert headline("translation", test) == {
        "greedy_bleu": 31.46,
        "greedy_chrf": 55.0,
        "greedy_placeholders_kept": 0.9988,
    }
