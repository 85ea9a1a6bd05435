from __future__ import annotations

from random import Random

import pytest
from django.core.exceptions import ValidationError

from tms.core.phones import normalise_phone
from tms.demo import catalogue, people
from tms.directory.models import KENYAN_COUNTIES, code_validator


def test_catalogue_codes_are_valid_and_unique() -> None:
    centres = [*catalogue.DEMO_CENTRES, *catalogue.design_point_centres()]
    agencies = [*catalogue.DEMO_AGENCIES, *catalogue.design_point_agencies()]
    services = [*catalogue.DEMO_SERVICES, *catalogue.design_point_services()]
    for codes in (
        [c.code for c in centres],
        [a.code for a in agencies],
        [s.code for s in services],
    ):
        assert len(codes) == len(set(codes))
        for code in codes:
            code_validator(code)
    assert len(centres) >= catalogue.DESIGN_CENTRES
    assert len(agencies) >= catalogue.DESIGN_AGENCIES
    assert len(services) >= catalogue.DESIGN_SERVICES
    assert {c.county for c in centres} == set(KENYAN_COUNTIES)
    agency_codes = {a.code for a in agencies}
    assert all(s.agency in agency_codes for s in services)
    assert all(s.turnaround_days >= 1 and s.retention_days >= 1 for s in services)


def test_code_validator_is_what_the_catalogue_is_checked_with() -> None:
    with pytest.raises(ValidationError):
        code_validator("nrb id")


def test_every_mobile_prefix_gives_valid_kenyan_numbers() -> None:
    rng = Random(0)
    for prefix in people.MOBILE_PREFIXES:
        for number in (f"+254{prefix}000000", f"+254{prefix}999999"):
            assert normalise_phone(number) == number
    for number in people.mobile_numbers(rng, 500):
        assert normalise_phone(number) == number


def test_names_come_from_the_region() -> None:
    rng = Random(1)
    kisumu = people.community_weights("Kisumu")
    drawn = [people.draw_community(rng, kisumu).name for _ in range(1000)]
    assert 0.5 < drawn.count("luo") / len(drawn) < 0.85
    assert len(set(drawn)) >= 6  # everyone lives everywhere
    names = {people.full_name(rng, people.COMMUNITIES["kalenjin"]) for _ in range(200)}
    assert all(2 <= len(name.split()) <= 4 for name in names)
    assert len(names) > 150
