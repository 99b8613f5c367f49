from core.text.normalize import (
    dedup_key,
    has_letters,
    normalize_whitespace,
    strip_accelerators,
)


def test_whitespace_collapses_including_nbsp_and_newlines() -> None:
    assert normalize_whitespace("  Nom\u00a0:\n\tvaleur  ") == "Nom : valeur"


def test_accelerators_are_stripped_at_word_starts_only() -> None:
    assert strip_accelerators("_File") == "File"
    assert strip_accelerators("&Open recent") == "Open recent"
    assert strip_accelerators("~Save as") == "Save as"
    assert strip_accelerators("R&D and snake_case") == "R&D and snake_case"
    assert strip_accelerators("Tom & Jerry") == "Tom & Jerry"


def test_accelerator_stripping_leaves_placeholders_alone() -> None:
    assert strip_accelerators("_Name %(_private)s &amp; {_x}") == "Name %(_private)s &amp; {_x}"


def test_dedup_key_ignores_case_quotes_and_punctuation() -> None:
    assert dedup_key("The Rock is ''great''!") == dedup_key('the rock is "great"')
    assert dedup_key("Delete.") == dedup_key("delete")


def test_has_letters() -> None:
    assert has_letters("été")
    assert not has_letters("%s: %d")
