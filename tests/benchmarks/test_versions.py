"""Published versions side by side: the figures, the table, each version's outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import versions


def test_a_classifier_version_is_scored_on_its_test_split_and_the_three_check_sets(
    corpora: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "v.json"
    assert versions.main(["sentiment:1", "--data", str(corpora), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| test accuracy | 0.792 |" in printed  # what its manifest records
    assert "'Awful film.'" in printed and "sentiment:1: positive" in printed
    assert "short_reviews_blind accuracy" in printed and out.is_file()
    assert "| short_reviews_third accuracy | 0.770 |" in printed  # measured at its writing
    with pytest.raises(SystemExit, match="NAME:VERSION"):
        versions.main(["sentiment"])


def test_a_translator_table_shows_both_splits_per_catalog_and_robustness() -> None:
    mode = {"bleu": 30.0, "chrf": 50.0, "placeholders_kept": 0.99, "degenerate": 0}
    split = {"beam4": {**mode, "by_origin": {"libc": {"bleu": 20.0}}}, "greedy": mode}
    result = {"test": split, "unseen": split, "robustness": {"same_as_clean": 0.99}}
    table = versions.table({"en-fr:3": result, "en-fr:4": result})
    assert "| unseen beam4 bleu | 30.00 | 30.00 |" in table
    assert "| unseen beam4 BLEU, libc | 20.0 | 20.0 |" in table
    assert "| test greedy placeholders_kept | 99.0% | 99.0% |" in table
    assert "| noisy sources translated as clean (greedy) | 99.0% | 99.0% |" in table
