"""Every printed demo login signs in through the real door: password, then the code
that ``tms demo_code`` shows (what the printed key gives in an authenticator app)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tms.accounts.models import StaffProfile
from tms.demo import services

pytestmark = pytest.mark.django_db


def test_each_demo_login_signs_in_with_its_role() -> None:
    services.reference_data_load_demo()
    for login in services.demo_logins():
        services.demo_login_ensure(login)
        client = Client()
        response = client.post(
            reverse("staff-login"), {"username": login.username, "password": login.password}
        )
        assert response["Location"].startswith(reverse("staff-verify")), login.username
        response = client.post(
            reverse("staff-verify"), {"code": services.demo_code(login.username)}
        )
        assert response.status_code == 302, login.username
        assert client.get(reverse("staff-home")).status_code == 200
        assert StaffProfile.objects.get(user__username=login.username).role == login.staff_role


def test_demo_logins_are_reset_to_their_documented_state() -> None:
    services.reference_data_load_demo()
    login = services.demo_logins()[1]
    services.demo_login_ensure(login)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=login.username)
    user.set_password("changed-by-someone-1")
    user.save()
    services.demo_login_ensure(login)
    user.refresh_from_db()
    assert user.check_password(login.password)
