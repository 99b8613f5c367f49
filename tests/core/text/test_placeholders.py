from core.text.placeholders import (
    MAX_PLACEHOLDERS,
    find_placeholders,
    mask,
    placeholders_kept,
    unmask,
)


def test_finds_every_kind_of_placeholder() -> None:
    text = (
        'Hi %(name)s, %s of %d, {0} {count} {x:.2f} <b>bold</b> <a href="%(url)s">x</a> &amp; %1$s'
    )
    assert find_placeholders(text) == [
        "%(name)s",
        "%s",
        "%d",
        "{0}",
        "{count}",
        "{x:.2f}",
        "<b>",
        "</b>",
        '<a href="%(url)s">',
        "</a>",
        "&amp;",
        "%1$s",
    ]


def test_plain_percent_and_braces_in_prose_are_not_placeholders() -> None:
    assert find_placeholders("50% sure, 100 % done, a {b c} set") == []


def test_mask_shares_sentinels_for_identical_spans_and_restores() -> None:
    m = mask("%s of %s and {n}")
    assert m.text == "<ph0> of <ph0> and <ph1>"
    assert m.spans == ("%s", "{n}")
    assert unmask(m.text, m.spans) == "%s of %s and {n}"


def test_target_uses_the_source_numbering_even_when_reordered() -> None:
    src = mask("%(a)s before %(b)s")
    tgt = mask("%(b)s après %(a)s", src.spans)
    assert tgt.text == "<ph1> après <ph0>"


def test_unmask_drops_invented_sentinels() -> None:
    assert unmask("x <ph0> <ph7>", ("%s",)) == "x %s "


def test_spans_past_the_limit_stay_text() -> None:
    text = " ".join(f"{{v{i}}}" for i in range(MAX_PLACEHOLDERS + 2))
    m = mask(text)
    assert len(m.spans) == MAX_PLACEHOLDERS
    assert m.text.endswith(f"{{v{MAX_PLACEHOLDERS + 1}}}")
    assert unmask(m.text, m.spans) == text


def test_placeholders_kept_compares_multisets() -> None:
    assert placeholders_kept("%s and %s", "%s et %s")
    assert not placeholders_kept("%s and %s", "%s et")
    assert not placeholders_kept("%(name)s", "%(nom)s")


def test_percent_after_a_number_is_prose() -> None:
    assert find_placeholders("100%done, 50%off, page %d of %s") == ["%d", "%s"]
