from pathlib import Path

import pytest

from core.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, SubwordTokenizer

CORPUS = [
    "Delete the selected items?",
    "Supprimer les éléments sélectionnés ?",
    "You have {count} new <b>messages</b>, %(name)s.",
    "Vous avez {count} nouveaux <b>messages</b>, %(name)s.",
    "L'élève n'a pas vu « l'Été » à Noël.",
    "%s of %s pages",
]


@pytest.fixture(scope="module")
def tok() -> SubwordTokenizer:
    return SubwordTokenizer.train(CORPUS * 20, vocab_size=500)


@pytest.mark.parametrize(
    "text",
    [
        *CORPUS,
        "Öffnen — naïve café, cœur, ÇA VA ?",
        "emoji 🎉 and 漢字 never seen",
        "aujourd'hui l’apostrophe typographique",
        '<a href="%(url)s">lien</a> &amp; {x:.2f}',
        "",
    ],
)
def test_round_trip_is_exact(tok: SubwordTokenizer, text: str) -> None:
    ids, masked = tok.encode_masked(text)
    assert tok.decode(ids, masked.spans) == text


def test_placeholders_are_single_atomic_tokens(tok: SubwordTokenizer) -> None:
    ids, masked = tok.encode_masked("Hello %(first_name)s and {count}")
    assert masked.spans == ("%(first_name)s", "{count}")
    assert [i for i in ids if i in tok.sentinel_ids] == list(tok.sentinel_ids[:2])


def test_special_ids_are_fixed_and_dropped_on_decode(tok: SubwordTokenizer) -> None:
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    ids = tok.encode("Delete")
    assert tok.decode([BOS_ID, *ids, EOS_ID, PAD_ID]) == "Delete"


def test_save_load_round_trip(tok: SubwordTokenizer, tmp_path: Path) -> None:
    path = tok.save(tmp_path / "tokenizer.json")
    again = SubwordTokenizer.load(tmp_path)
    assert path.is_file()
    assert again.encode("Supprimer les éléments") == tok.encode("Supprimer les éléments")


def test_lowercase_tokenizer_folds_case() -> None:
    tok = SubwordTokenizer.train(["Great film", "great FILM"] * 10, vocab_size=300, lowercase=True)
    assert tok.encode("GREAT Film") == tok.encode("great film")


def test_load_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train a model first"):
        SubwordTokenizer.load(tmp_path)


def test_tokenizer_module_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, core.text.tokenizer; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize(
    "text", ["Öffnen — naïve café", "emoji 🎉 and 漢字", "a  b\tc\n", "Gspell"]
)
def test_surfaces_join_to_the_decoded_text_byte_for_byte(tok: SubwordTokenizer, text: str) -> None:
    surfaces = tok.surfaces()
    ids = tok.encode(text)
    assert b"".join(surfaces[i] for i in ids) == text.encode()
    assert surfaces[EOS_ID] == b"" and len(surfaces) == tok.vocab_size
