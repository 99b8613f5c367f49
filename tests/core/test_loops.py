"""The loop guard (core.loops): letter runs across tokens, spans that would stand a third
time, and what the source holds."""

from __future__ import annotations

import pytest

from core.loops import LETTER_RUN, LONGEST_SPAN, LoopGuard, reads
from core.text.tokenizer import EOS_ID, SENTINEL_IDS

# a toy vocabulary: id 20 "l", 21 "ll", 22 " spe", 23 "G", 24 " .", 25 "x", 26 "é", 27 "L"
SURFACES = [b""] * 20 + [b"l", b"ll", b" spe", b"G", b" .", b"x", "é".encode(), b"L"]
L, LL, SPE, G, DOT, X, E_ACUTE, BIG_L = range(20, 28)


def guard(source: list[int] = ()) -> object:  # type: ignore[assignment]
    return LoopGuard(SURFACES).for_source([*source, EOS_ID])


def test_a_letter_run_is_caught_across_tokens_at_four_letters() -> None:
    g = guard()
    assert not g.loops([G, SPE, LL], L)  # "Gspelll": three l's
    assert g.loops([G, SPE, LL], LL)  # "Gspellll"
    assert g.loops([G, SPE, LL, L], L)
    assert g.loops([X, LL, L], L) and not g.loops([X, LL], L)
    assert not g.loops([LL, L], BIG_L)  # case counts: "lllL" is no run
    assert not g.loops([LL, L], X) and not g.loops([LL, X, LL], L)
    assert not g.loops([X, E_ACUTE, X, E_ACUTE], E_ACUTE)  # ASCII letters only
    assert LETTER_RUN == 4


def test_a_letter_run_the_source_holds_may_be_copied_and_no_longer() -> None:
    g = guard([LL, LL])  # the source reads "llll"
    assert not g.loops([LL], LL) and not g.loops([LL, L], L)
    assert g.loops([LL, LL], L)  # five l's: more than the source has


def test_a_span_may_stand_twice_back_to_back_not_a_third_time() -> None:
    g = guard()
    span = [G, SPE, X, DOT, LL]  # five tokens: longer than repeat_bars sees
    assert not g.loops(span, G)  # a second copy may start
    assert g.loops(span * 2, G)  # a third may not
    assert not g.loops(span * 2, SPE)  # something else may follow
    long = [G, SPE, X, DOT] * 4  # sixteen tokens
    assert LONGEST_SPAN == 16 and g.loops(long * 2, G)
    assert not g.loops([X, *long[1:], X, *long[1:]], DOT)


def test_a_span_run_the_source_holds_may_be_copied_as_often_as_it_stands_there() -> None:
    g = guard([X, *[DOT] * 5])  # "x . . . . ."
    assert not g.loops([X, DOT, DOT, DOT, DOT], DOT)  # the fifth " ."
    assert g.loops([X, DOT, DOT, DOT, DOT, DOT], DOT)  # a sixth: the source has five


def test_eos_and_sentinels_are_never_skipped() -> None:
    g = guard()
    assert not g.loops([LL, LL], EOS_ID) and g.loops([LL, LL], L)
    ph = SENTINEL_IDS[0]
    assert not g.loops([ph, ph, ph, ph], ph)


@pytest.mark.parametrize(("beam", "loops", "want"), [(1, False, 2), (4, False, 8), (4, True, 16)])
def test_the_guard_reads_more_candidates(beam: int, loops: bool, want: int) -> None:
    assert reads(beam, loops) == want
