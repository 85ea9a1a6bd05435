"""SMS segment counting (SPEC §5): GSM-7 160/153 septets a part, otherwise UCS-2 70/67.

Plain Python with no Django import, so the gateway simulator can use it too.

Rules, as handsets and SMS centres apply them:

- A text is GSM-7 when every character is in the 3GPP TS 23.038 default alphabet
  or its extension table; extension characters (``^ { } \\ [ ~ ] | €`` and form
  feed) take two septets (an escape and the character).
- Otherwise the whole text is UCS-2, counted in UTF-16 code units, so a character
  outside the Basic Multilingual Plane (most emoji) counts two.
- One segment holds 160 septets or 70 UCS-2 units. A longer text is split into
  parts of 153 septets or 67 units (the rest of each part is the concatenation
  header).
- A part never ends in the middle of a character: an extension character's two
  septets, or an emoji's surrogate pair, move whole to the next part, which can
  leave a part one unit short and so cost a segment more than plain division
  would say.
- The empty text counts as one segment, as Africa's Talking bills it; we never
  send one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The default alphabet in code order, without 0x1B (escape), which is not a
# character of its own but the prefix of the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")
_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int  # capacity of one part at this length: 160/153 or 70/67
    remaining: int  # units that still fit before another segment is needed


def is_gsm7(text: str) -> bool:
    return _GSM7_ALL.issuperset(text)


def non_gsm_characters(text: str) -> list[str]:
    """The characters that force ``text`` into UCS-2, each once, in order of appearance.

    Shown to template editors: a single curly apostrophe halves what fits.
    """
    seen: dict[str, None] = {}
    for char in text:
        if char not in _GSM7_ALL:
            seen.setdefault(char, None)
    return list(seen)


def count(text: str) -> SegmentCount:
    if is_gsm7(text):
        widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return _pack("GSM-7", widths, GSM7_SINGLE, GSM7_MULTI)
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return _pack("UCS-2", widths, UCS2_SINGLE, UCS2_MULTI)


def _pack(encoding: Encoding, widths: list[int], single: int, multi: int) -> SegmentCount:
    units = sum(widths)
    if units <= single:
        return SegmentCount(encoding, units, 1, single, single - units)
    # Fill parts greedily; a two-unit character that does not fit starts a new part.
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return SegmentCount(encoding, units, segments, multi, multi - used)


# Handsets and USSD show these typographic characters badly or not at all, and one
# of them turns a whole SMS into UCS-2 (70 characters a part): use the plain ones.
_PLAIN = str.maketrans(
    {
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "\u00a0": " ",
    }
)


def plain(text: str) -> str:
    """``text`` with typographic dashes, quotes and spaces made GSM-7 plain."""
    return text.translate(_PLAIN)
