"""Phone numbers: validated with ``phonenumbers`` and stored in E.164."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ALLOWED = re.compile(r"\+?[0-9 ().\-]{6,24}")
MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


class InvalidPhoneNumber(ValidationError):
    pass


def normalise_phone(raw: str, *, region: str = "KE") -> str:
    """Return ``raw`` as an E.164 mobile number, or raise InvalidPhoneNumber.

    Accepts Kenyan local forms (``0712 345 678``, ``712345678``,
    ``254712345678``, ``+254 712 345 678``) and international numbers.
    """
    text = (raw or "").strip()
    # phonenumbers reads letters as keypad digits (ABC = 2): a typo would reach a stranger.
    if not _ALLOWED.fullmatch(text):
        raise InvalidPhoneNumber(_("Enter a valid mobile phone number."))
    digits = "".join(ch for ch in text if ch.isdigit())
    # "254712345678" without a plus is the form many systems export.
    if not text.startswith("+") and digits.startswith("254") and len(digits) == 12:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_("Enter a valid mobile phone number.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_("Enter a valid mobile phone number."))
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidPhoneNumber(_("Enter a mobile phone number that can receive SMS."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """``+254712345678`` → ``+254 7** *** 678``: enough to recognise, not to use."""
    if len(e164) < 8:
        return "***"
    return f"{e164[:4]} {e164[4]}** *** {e164[-3:]}"
