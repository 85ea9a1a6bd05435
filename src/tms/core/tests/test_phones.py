"""Phone numbers are validated and stored in E.164, so an SMS reaches the applicant."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tms.core.phones import InvalidPhoneNumber, mask_phone, normalise_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0712 345 678",
        "0712345678",
        "712345678",
        "254712345678",
        "+254712345678",
        "+254 712 345 678",
        "0712-345-678",
        "(0712) 345 678",
        " 0712 345 678 ",
    ],
)
def test_kenyan_forms_become_e164(typed):
    assert normalise_phone(typed) == "+254712345678"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0110 123 456", "+254110123456"),  # the newer 01xx mobile range
        ("0722 000 000", "+254722000000"),
        ("+44 7911 123456", "+447911123456"),  # a foreign mobile keeps its own country
        ("+256 772 123456", "+256772123456"),
    ],
)
def test_other_mobile_numbers(typed, expected):
    assert normalise_phone(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "hello",
        "12345",
        "0712 345 67",  # a digit short
        "0712 345 6789",  # a digit too many
        "07123456789",
        "+254",
        "0712abc678",  # letters would be read as keypad digits
        "O712 345 678",  # letter O for zero
    ],
)
def test_garbage_is_refused(typed):
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(typed)
    assert isinstance(caught.value, ValidationError)
    assert caught.value.messages == ["Enter a valid mobile phone number."]


def test_none_is_refused():
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["020 2222222", "+254 20 2222222"])
def test_a_landline_is_refused_because_it_cannot_receive_sms(typed):
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(typed)
    assert caught.value.messages == ["Enter a mobile phone number that can receive SMS."]


def test_masking_keeps_enough_to_recognise_and_not_enough_to_use():
    assert mask_phone("+254712345678") == "+254 7** *** 678"
    assert "345" not in mask_phone("+254712345678")
    assert mask_phone("+2547") == "***"
