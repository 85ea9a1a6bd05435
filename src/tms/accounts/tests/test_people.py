"""Centre managers manage their own counter officers; administrators manage everyone."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts.models import StaffProfile
from tms.accounts.roles import Role
from tms.audit.models import AuditAction, AuditRecord
from tms.testing.builders import make_centre
from tms.testing.staff import make_staff, sign_in

pytestmark = pytest.mark.django_db


def test_a_manager_adds_a_counter_officer_at_their_centre(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    centre = manager.staff_profile.centre
    sign_in(client, manager)
    response = client.post(
        reverse("staff-people"),
        {
            "username": "amina",
            "full_name": "Amina Wanjiru",
            "password": "Counter-officer-2026!",
            "role": Role.COUNTER_OFFICER,
            "centre": centre.pk,
        },
    )
    assert response.status_code == 302
    profile = StaffProfile.objects.get(user__username="amina")
    assert profile.role == Role.COUNTER_OFFICER and profile.centre == centre
    record = AuditRecord.objects.get(action=AuditAction.STAFF)
    assert record.actor_user == manager and record.centre == centre


def test_a_manager_cannot_add_a_manager_or_staff_elsewhere(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    sign_in(client, manager)
    elsewhere = make_centre()
    for role, centre in (
        (Role.CENTRE_MANAGER, manager.staff_profile.centre),
        (Role.COUNTER_OFFICER, elsewhere),
    ):
        response = client.post(
            reverse("staff-people"),
            {
                "username": f"x{role}",
                "password": "Counter-officer-2026!",
                "role": role,
                "centre": centre.pk,
            },
        )
        assert response.status_code == 200  # the form says why
    assert not StaffProfile.objects.filter(user__username__startswith="x").exists()


def test_weak_passwords_are_refused(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    sign_in(client, manager)
    response = client.post(
        reverse("staff-people"),
        {
            "username": "weak",
            "password": "12345678",
            "role": Role.COUNTER_OFFICER,
            "centre": manager.staff_profile.centre.pk,
        },
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="weak").exists()


def test_a_manager_resets_and_deactivates_own_officers_only(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    own = make_staff(Role.COUNTER_OFFICER, centre=manager.staff_profile.centre)
    other = make_staff(Role.COUNTER_OFFICER)
    sign_in(client, manager)

    url = reverse("staff-person-action", args=[own.pk])
    assert client.post(url, {"action": "reset_second_factor"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=own).exists()
    assert client.post(url, {"action": "deactivate"}).status_code == 302
    own.refresh_from_db()
    assert not own.is_active

    url = reverse("staff-person-action", args=[other.pk])
    assert client.post(url, {"action": "deactivate"}).status_code == 403
    other.refresh_from_db()
    assert other.is_active
    assert AuditRecord.objects.filter(action=AuditAction.STAFF).count() == 2


def test_the_list_shows_own_centre_only(client: Client) -> None:
    manager = make_staff(Role.CENTRE_MANAGER)
    own = make_staff(Role.COUNTER_OFFICER, centre=manager.staff_profile.centre)
    other = make_staff(Role.COUNTER_OFFICER)
    sign_in(client, manager)
    page = client.get(reverse("staff-people")).content.decode()
    assert own.username in page and other.username not in page
