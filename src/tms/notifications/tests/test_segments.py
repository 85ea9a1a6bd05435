"""Segment counting (SPEC §5): GSM-7 160/153, UCS-2 70/67, no character split across parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tms.notifications.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentCount,
    count,
    non_gsm_characters,
)

# A Cyrillic letter: one UTF-16 unit, outside GSM-7.
U = "ж"
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UCS-2 units


def test_empty_text_is_one_segment_as_the_gateway_bills_it() -> None:
    assert count("") == SegmentCount("GSM-7", 0, 1, 160, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 160, 159),
        (160, 1, 160, 0),
        (161, 2, 153, 145),
        (306, 2, 153, 0),
        (307, 3, 153, 152),
        (459, 3, 153, 0),
        (460, 4, 153, 152),
    ],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    assert count("a" * length) == SegmentCount("GSM-7", length, segments, per_segment, remaining)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (70, 1, 70, 0),
        (71, 2, 67, 63),
        (134, 2, 67, 0),
        (135, 3, 67, 66),
    ],
)
def test_ucs2_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    assert count(U * length) == SegmentCount("UCS-2", length, segments, per_segment, remaining)


def test_one_non_gsm_character_turns_the_whole_text_ucs2() -> None:
    text = "Don’t forget your slip." + "a" * 60  # a curly apostrophe
    result = count(text)
    assert result.encoding == "UCS-2"
    assert result.units == len(text)
    assert result.segments == 2
    assert count(text.replace("’", "'")) == SegmentCount("GSM-7", len(text), 1, 160, 160 - 83)


def test_extension_characters_count_two_septets() -> None:
    assert count("€") == SegmentCount("GSM-7", 2, 1, 160, 158)
    assert count("€" * 80).segments == 1
    assert count("€" * 80 + "a").segments == 2
    assert count("a" * 159 + "[").units == 161
    assert count("a" * 159 + "[").segments == 2
    for char in "^{}\\[~]|€\x0c":
        assert count(char).units == 2, repr(char)


def test_extension_character_is_not_split_across_parts() -> None:
    # 152 + 2 + 152 = 306 septets would fill two parts exactly, but the euro sign
    # cannot straddle the first boundary: it moves whole to part two, so part
    # three holds the last septet.
    text = "a" * 152 + "€" + "a" * 152
    result = count(text)
    assert result.units == 306
    assert result.segments == 3
    assert result.remaining == 152
    # One septet earlier it fits the first part exactly: two parts.
    assert count("a" * 151 + "€" + "a" * 153).segments == 2


def test_emoji_counts_two_units_and_is_not_split() -> None:
    assert count(EMOJI) == SegmentCount("UCS-2", 2, 1, 70, 68)
    assert count("a" * 68 + EMOJI).segments == 1
    assert count("a" * 69 + EMOJI) == SegmentCount("UCS-2", 71, 2, 67, 63)
    # The pair would straddle the first part's end: it moves to part two.
    text = U * 66 + EMOJI + U * 66
    assert count(text).units == 134
    assert count(text).segments == 3
    assert count(U * 65 + EMOJI + U * 67).segments == 2


def test_swahili_in_plain_latin_is_gsm7() -> None:
    text = (
        "Habari! Kitambulisho chako (KE-2026-ABCD) kiko tayari Huduma Centre GPO, Nairobi. "
        "Leta risiti yako. Saa: Jumatatu-Ijumaa 8:00-17:00."
    )
    result = count(text)
    assert result.encoding == "GSM-7"
    assert result.units == len(text)
    assert result.segments == 1


def test_the_whole_default_alphabet_is_gsm7() -> None:
    basic = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    assert len(set(basic)) == 127  # 128 codes less the escape
    assert set(basic) == GSM7_BASIC
    assert count(basic) == SegmentCount("GSM-7", 127, 1, 160, 33)
    assert set("^{}\\[~]|€\x0c") == GSM7_EXTENSION


@pytest.mark.parametrize("char", ["’", "“", "ç", "á", "\t", "\x1b", "–", "…", "ж", EMOJI])
def test_characters_outside_gsm7(char: str) -> None:
    assert count("Hello " + char).encoding == "UCS-2"
    assert non_gsm_characters("Hello " + char) == [char]


def test_non_gsm_characters_lists_each_once_in_order() -> None:
    assert non_gsm_characters("Don’t “wait” 😀 ’ é ç") == ["’", "“", "”", "😀", "ç"]
    assert non_gsm_characters("Plain text with € and [brackets]") == []


_ALPHABET = "aZ0 .€[Ç" + U + "’" + EMOJI


@given(st.text(alphabet=_ALPHABET, max_size=400))
def test_remaining_is_exactly_what_still_fits(text: str) -> None:
    result = count(text)
    filler = "a" if result.encoding == "GSM-7" else U
    assert result.remaining >= 0
    assert count(text + filler * result.remaining).segments == result.segments
    assert count(text + filler * (result.remaining + 1)).segments == result.segments + 1
    assert result.units >= len(text)
    assert result.segments * result.per_segment >= result.units
