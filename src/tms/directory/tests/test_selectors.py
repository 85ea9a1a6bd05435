"""Reading reference data."""

from __future__ import annotations

from datetime import date

import pytest

from tms.directory.models import PublicHoliday
from tms.directory.selectors import centre_list, service_list, working_calendar
from tms.testing.builders import make_agency, make_centre, make_service


@pytest.fixture
def three_holidays(db):
    for day in [date(2026, 10, 20), date(2026, 12, 25), date(2027, 1, 1)]:
        PublicHoliday.objects.create(date=day, name="holiday")


def test_the_calendar_holds_every_recorded_holiday_when_open_ended(three_holidays):
    assert working_calendar().holidays == {date(2026, 10, 20), date(2026, 12, 25), date(2027, 1, 1)}


def test_the_calendar_can_be_limited_to_a_range(three_holidays):
    assert working_calendar(start=date(2026, 12, 1)).holidays == {
        date(2026, 12, 25),
        date(2027, 1, 1),
    }
    assert working_calendar(end=date(2026, 12, 25)).holidays == {
        date(2026, 10, 20),
        date(2026, 12, 25),
    }
    assert working_calendar(start=date(2026, 12, 25), end=date(2026, 12, 25)).holidays == {
        date(2026, 12, 25)
    }
    assert working_calendar(start=date(2027, 1, 2)).holidays == set()


@pytest.mark.django_db
def test_centre_list_hides_closed_centres_unless_asked():
    open_centre = make_centre()
    closed = make_centre(is_active=False)
    assert list(centre_list()) == [open_centre]
    assert set(centre_list(active_only=False)) == {open_centre, closed}


@pytest.mark.django_db
def test_service_list_by_agency_and_activity():
    kra, nrb = make_agency("KRA"), make_agency("NRB")
    pin = make_service("KRA-PIN", agency=kra)
    old = make_service("KRA-OLD", agency=kra, is_active=False)
    new_id = make_service("NRB-ID", agency=nrb)

    assert set(service_list()) == {pin, new_id}
    assert list(service_list(agency=kra)) == [pin]
    assert set(service_list(agency=kra, active_only=False)) == {pin, old}
    assert set(service_list(active_only=False)) == {pin, old, new_id}
