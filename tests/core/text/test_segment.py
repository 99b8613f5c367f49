"""What a translator is given of a user's text, and how the pieces go back together."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.text.placeholders import find_placeholders
from core.text.segment import Piece, frame, join, pieces, sentences, visible


def words(n: int):  # a "limit" of n words, as a tokenizer's would be in tokens
    return lambda text: len(text.split()) <= n


def test_frame_keeps_emoji_and_stray_space_at_the_edges_aside() -> None:
    assert frame("😀 Save changes 😀") == Piece("Save changes", "😀 ", " 😀")
    assert frame("  Save   changes \n") == Piece("Save changes", "  ", " \n")
    assert frame("Save changes") == Piece("Save changes")
    assert frame("👍🏽 Done") == Piece("Done", "👍🏽 ", "")  # a skin tone modifier stays with it


def test_frame_drops_zero_width_characters_but_not_an_emoji_joiner() -> None:
    assert frame("Save\u200b changes\u200d").text == "Save changes"
    assert frame("\ufeffQuit the application").text == "Quit the application"
    assert frame("Save\u200dchanges").text == "Savechanges"
    family = "👨\u200d👩\u200d👧"
    assert frame(f"{family} Family").head == f"{family} "
    assert visible(f"a\u200bb{family}") == f"ab{family}"


def test_frame_never_peels_a_placeholder_and_keeps_an_all_symbol_text() -> None:
    assert frame("<b>Warning</b>: disk is almost full").text.startswith("<b>")
    assert frame("%s ★").text == "%s"
    assert frame("😀") == Piece("😀")
    assert frame("   ") == Piece("   ")


def test_a_text_that_fits_is_one_piece() -> None:
    assert pieces("😀 Save changes", words(5)) == [Piece("Save changes", "😀 ", "")]


def test_a_long_text_splits_at_sentences_then_clauses_and_joins_with_its_spaces() -> None:
    text = (
        "The file {name} could not be deleted.  Check that you have the rights, then try "
        "again! Is the disk full? Yes."
    )
    parts = pieces(text, words(8))
    assert [p.text for p in parts] == [
        "The file {name} could not be deleted.",
        "Check that you have the rights,",
        "then try again!",
        "Is the disk full?",
        "Yes.",
    ]
    assert parts[0].tail == "  "  # the separator travels with the piece before it
    assert join(parts, [p.text for p in parts]) == text
    assert join(parts, ["A", "B", "C", "D", "E"]) == "A  B C D E"


def test_a_sentence_end_before_a_lower_case_word_is_no_end() -> None:
    parts = pieces("Use e.g. this one. Then stop.", words(4))
    assert [p.text for p in parts] == ["Use e.g. this one.", "Then stop."]


def test_clauses_of_one_sentence_are_packed_back_together_while_they_fit() -> None:
    parts = pieces("one, two, three, four, five, six", words(3))
    assert [p.text for p in parts] == ["one, two, three,", "four, five, six"]


def test_a_word_longer_than_the_limit_is_cut_so_that_every_piece_fits() -> None:
    def fits(text: str) -> bool:
        return len(text) <= 10

    parts = pieces("x" * 45, fits)
    assert all(fits(p.text) for p in parts) and "".join(p.text for p in parts) == "x" * 45


def test_no_split_falls_inside_a_placeholder() -> None:
    text = 'Open <a href="x. Y">the page. Now</a> please. And go.'
    for p in pieces(text, words(3)):
        for span in find_placeholders(p.text):
            assert span in text


_SQUASH = re.compile(r"\s+")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Save",
                "the",
                "file",
                "%s",
                "{n}",
                ".",
                "!",
                ",",
                " ",
                "  ",
                "\n",
                "😀",
                "\u200b",
                "Quit",
                "é",
                "<b>",
                "</b>",
                "?",
                ";",
                "—",
                "a",
                "b",
            ]
        ),
        max_size=60,
    ),
    st.integers(1, 6),
)
def test_pieces_fit_and_join_back_to_the_text(chunks: list[str], limit: int) -> None:
    text = "".join(chunks)
    parts = pieces(text, lambda t: len(t) <= limit * 4)
    for p in parts:
        assert len(p.text) <= limit * 4 or len(p.text.split()) == 1
    joined = join(parts, [p.text for p in parts])

    def plain(s: str) -> str:
        return _SQUASH.sub("", visible(s))

    assert plain(joined) == plain(text)
    for p in parts:  # the model sees no zero-width character nor edge space (in words)
        if visible(p.text).strip():
            assert "\u200b" not in p.text and p.text == p.text.strip()


def test_a_text_of_several_sentences_is_a_piece_per_sentence_even_when_it_fits() -> None:
    text = "😀 One two. Three four!  Five six? "
    parts = pieces(text, words(50))
    assert [p.text for p in parts] == ["One two.", "Three four!", "Five six?"]
    assert parts[0].head == "😀 " and parts[-1].tail == " "
    assert join(parts, [p.text for p in parts]) == text
    assert sentences(text) == 3 and sentences("One two.") == 1 and sentences("") == 1
    assert pieces("", words(5)) == [Piece("")] and pieces("  ", words(5)) == [Piece("  ")]


def test_what_users_type_around_a_text_does_not_change_where_it_is_cut() -> None:
    assert pieces("Done. 😀", words(50)) == [Piece("Done.", "", " 😀")]  # framed away
    assert sentences("Done.  ⚠️ ") == 1
    assert sentences("Is it %s?  no") == 1  # a doubled space before a lower-case word
    assert sentences("Is it %s? \u200bno") == 1  # a zero-width character there
    assert sentences("Is it %s?  No") == 2
