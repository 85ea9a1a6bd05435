"""Who sees which figures: filters_for per role."""

from __future__ import annotations

from datetime import date

import pytest

from tms.accounts.roles import Role
from tms.accounts.scope import NotAllowed
from tms.reports.selectors import Filters, filters_for
from tms.testing.builders import make_agency, make_centre, make_service
from tms.testing.staff import make_staff, staff_of

pytestmark = pytest.mark.django_db
START, END = date(2026, 5, 1), date(2026, 5, 31)


def test_a_centre_manager_sees_their_centre_only() -> None:
    centre, other = make_centre(), make_centre()
    service = make_service()
    manager = staff_of(make_staff(Role.CENTRE_MANAGER, centre=centre))
    assert filters_for(manager, start=START, end=END) == Filters(START, END, centre_id=centre.pk)
    assert filters_for(
        manager, start=START, end=END, centre_id=centre.pk, service_id=service.pk
    ) == Filters(START, END, centre_id=centre.pk, service_id=service.pk)
    with pytest.raises(NotAllowed):
        filters_for(manager, start=START, end=END, centre_id=other.pk)


def test_an_agency_officer_sees_their_agency_only() -> None:
    agency, other = make_agency(), make_agency()
    centre = make_centre()
    officer = staff_of(make_staff(Role.AGENCY_OFFICER, agency=agency))
    assert filters_for(officer, start=START, end=END) == Filters(START, END, agency_id=agency.pk)
    # Any centre, within the agency.
    assert filters_for(officer, start=START, end=END, centre_id=centre.pk) == Filters(
        START, END, centre_id=centre.pk, agency_id=agency.pk
    )
    with pytest.raises(NotAllowed):
        filters_for(officer, start=START, end=END, agency_id=other.pk)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMINISTRATOR])
def test_analysts_and_administrators_see_what_they_ask_for(role: Role) -> None:
    staff = staff_of(make_staff(role))
    assert filters_for(staff, start=START, end=END) == Filters(START, END)
    centre, agency, service = make_centre(), make_agency(), make_service()
    assert filters_for(
        staff, start=START, end=END, centre_id=centre.pk, agency_id=agency.pk, service_id=service.pk
    ) == Filters(START, END, centre.pk, agency.pk, service.pk)


def test_a_counter_officer_may_not_read_reports() -> None:
    centre = make_centre()
    officer = staff_of(make_staff(Role.COUNTER_OFFICER, centre=centre))
    with pytest.raises(NotAllowed):
        filters_for(officer, start=START, end=END)
    with pytest.raises(NotAllowed):
        filters_for(officer, start=START, end=END, centre_id=centre.pk)
