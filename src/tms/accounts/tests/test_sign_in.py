"""Signing in: password, then a TOTP code (enrolled at first sign-in), recovery codes,
lockout after repeated failures, idle sign-out, and the admin behind the same door."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts.middleware import SEEN_KEY
from tms.accounts.roles import Role
from tms.testing.staff import PASSWORD, make_staff, sign_in

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice) -> str:
    return (
        f"{TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits).token():06d}"
    )


def password_step(client: Client, username: str, password: str = PASSWORD, next_url: str = ""):
    return client.post(
        reverse("staff-login"), {"username": username, "password": password, "next": next_url}
    )


def test_first_sign_in_enrols_an_authenticator_and_shows_recovery_codes(client: Client) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    TOTPDevice.objects.filter(user=user).delete()  # a new account has none yet

    response = password_step(client, user.username)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-enrol"))
    # Not yet verified: the back office sends the user back to finish.
    assert client.get(reverse("staff-home"))["Location"].startswith(reverse("staff-verify"))

    page = client.get(reverse("staff-enrol"))
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, served inline (no external service)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    key = re.search(rb'<code class="secret">([A-Z2-7 ]+)</code>', page.content)
    assert key is not None

    wrong = client.post(
        reverse("staff-enrol"), {"code": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert "not right" in wrong.content.decode()
    done = client.post(reverse("staff-enrol"), {"code": code_for(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9]{10})</code></li>", done.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("staff-home")).status_code == 200


def test_sign_in_asks_for_the_code_and_goes_where_it_was_going(client: Client) -> None:
    user = make_staff(Role.CENTRE_MANAGER)
    target = reverse("audit-trail")
    response = client.get(target)
    assert response["Location"].startswith(reverse("staff-login"))

    response = password_step(client, user.username, next_url=target)
    assert response["Location"].startswith(reverse("staff-verify"))
    response = client.post(reverse("staff-verify"), {"code": "123456", "next": target})
    device = TOTPDevice.objects.get(user=user)
    if code_for(device) != "123456":
        assert response.status_code == 200 and "not right" in response.content.decode()
        # After a wrong code the authenticator waits before it accepts another.
        response = client.post(reverse("staff-verify"), {"code": code_for(device)})
        assert "Too many wrong codes" in response.content.decode()
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    response = client.post(reverse("staff-verify"), {"code": code_for(device), "next": target})
    assert response.status_code == 302 and response["Location"] == target
    assert client.get(target).status_code == 200


def test_the_next_address_cannot_lead_off_site(client: Client) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    password_step(client, user.username)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(
        reverse("staff-verify"), {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("staff-home")


def test_a_recovery_code_signs_in_once(client: Client) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    sign_in(client, user)
    page = client.post(reverse("staff-recovery-codes"))
    codes = re.findall(r"<li><code>([a-z2-9]{10})</code></li>", page.content.decode())
    assert len(codes) == 10
    client.post(reverse("staff-logout"))

    for attempt in range(2):
        other = Client()
        password_step(other, user.username)
        response = other.post(reverse("staff-verify"), {"code": codes[0].upper()})
        if attempt == 0:
            assert response.status_code == 302
            assert other.get(reverse("staff-home")).status_code == 200
        else:
            assert response.status_code == 200  # used up
            assert "used already" in response.content.decode()


def test_repeated_wrong_passwords_lock_the_account(client: Client, settings) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = password_step(client, user.username, password="wrong-password")
        assert response.status_code == 200
        assert "Wrong username or password" in response.content.decode()
    response = password_step(client, user.username, password="wrong-password")
    assert response.status_code == 403
    # Locked: even the right password is refused, from any address.
    response = password_step(Client(REMOTE_ADDR="10.1.2.3"), user.username)
    assert response.status_code == 403
    assert "locked" in response.content.decode()
    # Another account is not affected.
    other = make_staff(Role.COUNTER_OFFICER)
    assert password_step(client, other.username).status_code == 302


def test_an_idle_session_ends(client: Client, settings) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    sign_in(client, user)
    assert client.get(reverse("staff-home")).status_code == 200
    session = client.session
    session[SEEN_KEY] = int(time.time()) - settings.TMS_STAFF_IDLE_MINUTES * 60 - 5
    session.save()
    response = client.get(reverse("staff-home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-login"))


def test_an_active_session_stays(client: Client, settings) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    sign_in(client, user)
    session = client.session
    session[SEEN_KEY] = int(time.time()) - settings.TMS_STAFF_IDLE_MINUTES * 60 + 60
    session.save()
    assert client.get(reverse("staff-home")).status_code == 200


def test_the_admin_needs_the_second_factor_too(client: Client) -> None:
    user = make_staff(Role.ADMINISTRATOR)
    password_step(client, user.username)  # password only
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("staff-verify"))
    assert "Enter your code" in response.content.decode()
    sign_in(client, user)
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_user_without_a_staff_role_is_refused(client: Client, django_user_model) -> None:
    user = django_user_model.objects.create_user("citizen", password=PASSWORD)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    sign_in(client, user)
    assert client.get(reverse("staff-home")).status_code == 403


def test_a_deactivated_account_cannot_sign_in(client: Client) -> None:
    user = make_staff(Role.COUNTER_OFFICER)
    user.is_active = False
    user.save()
    response = password_step(client, user.username)
    assert response.status_code == 200
    assert "Wrong username or password" in response.content.decode()


def test_sign_out_needs_post_and_ends_the_session(client: Client) -> None:
    sign_in(client, make_staff(Role.COUNTER_OFFICER))
    assert client.get(reverse("staff-logout")).status_code == 405
    client.post(reverse("staff-logout"))
    assert client.get(reverse("staff-home")).status_code == 302
