"""Tracking references (SPEC §4).

Twelve random digits (the first never 0, so spreadsheets cannot drop it) and a
Damm check digit, which catches every single-digit error and every swap of
neighbouring digits. Shown in groups of four: ``4821 7730 9155 2``.
"""

from __future__ import annotations

import re
import secrets
from random import Random

from django.utils.translation import gettext_lazy as _
from stdnum import damm

RANDOM_DIGITS = 12
LENGTH = RANDOM_DIGITS + 1
_SEPARATORS = re.compile(r"[\s\-‐-―.]+")


class ReferenceTypingError(ValueError):
    """The input cannot be a reference: wrong characters, wrong length or check digit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(_("This reference has a typing error. Please check it and try again."))


def with_check_digit(body: str) -> str:
    return body + damm.calc_check_digit(body)


def generate(rng: Random | None = None) -> str:
    """A new random reference (13 digits). ``rng`` is for deterministic demo data only."""
    if rng is None:
        body = str(secrets.randbelow(9 * 10 ** (RANDOM_DIGITS - 1)) + 10 ** (RANDOM_DIGITS - 1))
    else:
        body = str(rng.randrange(10 ** (RANDOM_DIGITS - 1), 10**RANDOM_DIGITS))
    return with_check_digit(body)


def parse(text: str) -> str:
    """Return the 13 digits of a typed reference, or raise ReferenceTypingError.

    Spaces, dashes and dots between digits are accepted, as people copy them.
    """
    digits = _SEPARATORS.sub("", text or "")
    if not digits:
        raise ReferenceTypingError("empty")
    if not digits.isascii() or not digits.isdigit():
        raise ReferenceTypingError("characters")
    if len(digits) != LENGTH:
        raise ReferenceTypingError("length")
    if not damm.is_valid(digits):
        raise ReferenceTypingError("check digit")
    return digits


def is_well_formed(text: str) -> bool:
    try:
        parse(text)
    except ReferenceTypingError:
        return False
    return True


def display(reference: str) -> str:
    """``4821773091552`` → ``4821 7730 9155 2``."""
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
