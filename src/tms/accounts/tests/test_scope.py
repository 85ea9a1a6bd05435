"""Scope: which applications each role reaches, enforced in the Staff object that
selectors and services take (not only in menus)."""

from __future__ import annotations

import pytest

from tms.accounts.roles import CAPABILITIES, Capability, Role
from tms.accounts.scope import NotAllowed
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.testing.staff import make_staff, staff_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    centre_a, centre_b = make_centre(), make_centre()
    agency_a, agency_b = make_agency(), make_agency()
    service_a, service_b = make_service(agency=agency_a), make_service(agency=agency_b)
    return {
        "a_a": lodge(service=service_a, centre=centre_a),
        "a_b": lodge(service=service_b, centre=centre_a),
        "b_a": lodge(service=service_a, centre=centre_b),
        "centre_a": centre_a,
        "agency_a": agency_a,
    }


def test_centre_roles_reach_their_centre_only(world) -> None:
    for role in (Role.COUNTER_OFFICER, Role.CENTRE_MANAGER):
        staff = staff_of(make_staff(role, centre=world["centre_a"]))
        assert set(staff.applications()) == {world["a_a"], world["a_b"]}
        assert staff.covers(world["a_a"]) and not staff.covers(world["b_a"])
        with pytest.raises(NotAllowed):
            staff.check(world["b_a"])


def test_agency_officers_reach_their_agency_at_every_centre(world) -> None:
    staff = staff_of(make_staff(Role.AGENCY_OFFICER, agency=world["agency_a"]))
    assert set(staff.applications()) == {world["a_a"], world["b_a"]}
    with pytest.raises(NotAllowed):
        staff.check(world["a_b"])


def test_administrators_reach_everything_and_analysts_no_personal_data(world) -> None:
    admin = staff_of(make_staff(Role.ADMINISTRATOR))
    assert admin.applications().count() == 3
    analyst = staff_of(make_staff(Role.ANALYST))
    assert analyst.applications().count() == 0
    with pytest.raises(NotAllowed):
        analyst.check(world["a_a"])


def test_capabilities_follow_the_roles_table() -> None:
    # SPEC §2 in one table: counter work at centres, backlog and staff for managers,
    # reports for analysts, administration for administrators.
    assert Capability.LODGE in CAPABILITIES[Role.COUNTER_OFFICER]
    assert Capability.BACKLOG not in CAPABILITIES[Role.COUNTER_OFFICER]
    assert CAPABILITIES[Role.COUNTER_OFFICER] < CAPABILITIES[Role.CENTRE_MANAGER]
    assert CAPABILITIES[Role.ANALYST] == {Capability.REPORTS}
    assert Capability.LODGE not in CAPABILITIES[Role.AGENCY_OFFICER]


def test_a_role_without_the_capability_is_refused() -> None:
    staff = staff_of(make_staff(Role.COUNTER_OFFICER))
    staff.require(Capability.LODGE)
    with pytest.raises(NotAllowed):
        staff.require(Capability.AUDIT)


def test_the_database_refuses_a_role_without_its_scope(django_user_model) -> None:
    from django.db import IntegrityError, transaction

    from tms.accounts.models import StaffProfile

    user = django_user_model.objects.create_user("x", password="a-long-test-password-42")
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffProfile.objects.create(user=user, role=Role.COUNTER_OFFICER)  # no centre
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffProfile.objects.create(user=user, role=Role.ANALYST, centre=make_centre())
