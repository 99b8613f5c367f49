from pathlib import Path

import pytest

from models.data.loaders import DataError, load_classification, load_translation


def test_csv_tsv_jsonl_classification(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('text,label\n"Great, really",pos\nBad,neg\n')
    (tmp_path / "a.tsv").write_text("sentence\tsentiment\nGreat\tpos\n")
    (tmp_path / "a.jsonl").write_text(
        '{"text": "Great", "label": 1}\n\n{"text": "Bad", "label": 0}\n'
    )
    assert load_classification(tmp_path / "a.csv") == [
        {"text": "Great, really", "label": "pos"},
        {"text": "Bad", "label": "neg"},
    ]
    assert load_classification(tmp_path / "a.tsv") == [{"text": "Great", "label": "pos"}]
    assert load_classification(tmp_path / "a.jsonl")[1] == {"text": "Bad", "label": "0"}


def test_imdb_folder(tmp_path: Path) -> None:
    for label, text in (("pos", "Loved it.<br />Really."), ("neg", "Dull.")):
        (tmp_path / label).mkdir()
        (tmp_path / label / "0_9.txt").write_text(text)
    rows = load_classification(tmp_path)
    assert rows == [
        {"text": "Dull.", "label": "negative"},
        {"text": "Loved it. Really.", "label": "positive"},
    ]


@pytest.mark.parametrize(
    ("name", "content", "where", "message"),
    [
        (
            "bad.jsonl",
            '{"text": "ok", "label": "a"}\n{"text": "x", "label"\n',
            ":2:",
            "invalid JSON",
        ),
        ("bad.jsonl", '{"text": "ok", "label": "a"}\n["a", "b"]\n', ":2:", "JSON object per line"),
        (
            "bad.jsonl",
            '{"text": "ok", "label": "a"}\n{"text": "", "label": "b"}\n',
            ":2:",
            "empty 'text'",
        ),
        ("bad.csv", "body,label\nhi,a\n", ":1:", "no text column"),
        ("bad.csv", "text,label\nhi,a\nthere,b,extra\n", ":3:", "more fields"),
        ("bad.csv", "text,label\nhi,a\nthere,\n", ":3:", "empty 'label'"),
        ("bad.xlsx", "whatever", "bad.xlsx", "unknown format"),
    ],
)
def test_bad_files_name_file_line_and_problem(
    tmp_path: Path, name: str, content: str, where: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        load_classification(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncafé,a\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_classification(path)


def test_missing_file_and_bad_imdb_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_classification(tmp_path / "nope.csv")
    with pytest.raises(
        DataError, match=r"aclImdb layout needs .*/neg/ with one review per .txt file"
    ):
        load_classification(tmp_path)


def test_translation_tsv_with_and_without_header_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "h.tsv").write_text("source\ttarget\nSave\tEnregistrer\n")
    (tmp_path / "n.tsv").write_text("Save\tEnregistrer\nOpen %s\tOuvrir %s\n")
    (tmp_path / "p.jsonl").write_text('{"src": "Save", "tgt": "Enregistrer"}\n')
    assert load_translation(tmp_path / "h.tsv") == [{"source": "Save", "target": "Enregistrer"}]
    assert load_translation(tmp_path / "n.tsv")[1] == {"source": "Open %s", "target": "Ouvrir %s"}
    assert load_translation(tmp_path / "p.jsonl") == [{"source": "Save", "target": "Enregistrer"}]


def test_translation_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("Save\tEnregistrer\nOnly one field\n")
    with pytest.raises(DataError, match=r"bad.tsv:2: expected 2 tab-separated fields"):
        load_translation(path)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"source": "Save"}\n')
    with pytest.raises(DataError, match="no target column"):
        load_translation(path)


def test_csv_keeps_quoted_newlines_and_tsv_keeps_quotes(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('text,label\n"line one\nline two",pos\n', newline="")
    (tmp_path / "a.tsv").write_text('source\ttarget\n"Save" as\t"Enregistrer" sous\n')
    assert load_classification(tmp_path / "a.csv") == [
        {"text": "line one\nline two", "label": "pos"}
    ]
    assert load_translation(tmp_path / "a.tsv") == [
        {"source": '"Save" as', "target": '"Enregistrer" sous'}
    ]


def test_bom_and_unicode_line_separators_are_fine(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("\ufefftext,label\nGreat,pos\n")
    (tmp_path / "b.tsv").write_text("\ufeffsource\ttarget\nSave\tEnregistrer\n")
    (tmp_path / "b.jsonl").write_text('{"text": "a\u2028b", "label": "x"}\n')
    assert load_classification(tmp_path / "b.csv") == [{"text": "Great", "label": "pos"}]
    assert load_translation(tmp_path / "b.tsv") == [{"source": "Save", "target": "Enregistrer"}]
    assert load_classification(tmp_path / "b.jsonl") == [{"text": "a\u2028b", "label": "x"}]


def test_not_utf8_translation_and_review_files_name_the_file(tmp_path: Path) -> None:
    tsv = tmp_path / "l.tsv"
    tsv.write_bytes("Café\tCafé\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"l\.tsv: not UTF-8"):
        load_translation(tsv)
    for label in ("pos", "neg"):
        (tmp_path / "imdb" / label).mkdir(parents=True)
    (tmp_path / "imdb" / "neg" / "1_2.txt").write_bytes("Déçu".encode("latin-1"))
    with pytest.raises(DataError, match=r"1_2\.txt: not UTF-8"):
        load_classification(tmp_path / "imdb")
