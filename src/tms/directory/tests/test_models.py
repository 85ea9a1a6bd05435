"""Reference data models: what they validate and how they show themselves."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tms.directory.models import KENYAN_COUNTIES, code_validator
from tms.testing.builders import make_agency, make_centre, make_service


def test_there_are_47_counties_without_duplicates():
    assert len(KENYAN_COUNTIES) == 47
    assert len(set(KENYAN_COUNTIES)) == 47
    assert KENYAN_COUNTIES[0] == "Mombasa"
    assert KENYAN_COUNTIES[-1] == "Nairobi"


@pytest.mark.parametrize("code", ["NRB", "NRB-ID-NEW", "C1", "A" * 20])
def test_valid_codes(code):
    code_validator(code)


@pytest.mark.parametrize("code", ["", "nrb", "-NRB", "NRB ID", "A" * 21, "NRB_ID"])
def test_invalid_codes(code):
    with pytest.raises(ValidationError):
        code_validator(code)


@pytest.mark.django_db
def test_service_names_and_what_to_bring_follow_the_language():
    service = make_service(
        name_en="Birth certificate", name_sw="Cheti cha kuzaliwa",
        bring_en="Your slip", bring_sw="Stakabadhi yako",
    )  # fmt: skip
    assert service.name("en") == "Birth certificate"
    assert service.name("sw") == "Cheti cha kuzaliwa"
    assert service.what_to_bring("sw") == "Stakabadhi yako"
    with translation.override("sw"):
        assert service.name() == "Cheti cha kuzaliwa"
        assert service.what_to_bring() == "Stakabadhi yako"
    with translation.override("en"):
        assert service.name() == "Birth certificate"


@pytest.mark.django_db
def test_reference_data_shows_code_and_name():
    agency = make_agency("NRB", name="National Registration Bureau")
    assert str(agency) == "NRB – National Registration Bureau"
    assert str(make_service("NRB-ID", agency=agency, name_en="ID card")) == "NRB-ID – ID card"
    assert str(make_centre("GPO", name="Huduma GPO")) == "GPO – Huduma GPO"


@pytest.mark.django_db
def test_a_service_must_promise_at_least_one_working_day():
    service = make_service()
    service.turnaround_days = 0
    with pytest.raises(ValidationError) as caught:
        service.full_clean()
    assert "turnaround_days" in caught.value.message_dict
