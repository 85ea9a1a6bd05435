"""Staff accounts for tests: each role bound to its centre or agency, signed in with a
verified second factor (as after a real TOTP sign-in)."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts.models import StaffProfile
from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Role
from tms.accounts.scope import Staff
from tms.directory.models import Agency, Centre
from tms.testing.builders import make_agency, make_centre

_numbers = itertools.count(1)
PASSWORD = "a-long-test-password-42"  # noqa: S105 (tests only)


def make_staff(
    role: Role,
    *,
    centre: Centre | None = None,
    agency: Agency | None = None,
    username: str | None = None,
    is_staff: bool | None = None,
) -> Any:
    """A user with ``role`` (a centre or agency made up when the role needs one) and a
    confirmed authenticator."""
    role = Role(role)
    if role in CENTRE_ROLES and centre is None:
        centre = make_centre()
    if role in AGENCY_ROLES and agency is None:
        agency = make_agency()
    user = get_user_model().objects.create_user(
        username or f"{role.value}-{next(_numbers)}",
        password=PASSWORD,
        is_staff=role == Role.ADMINISTRATOR if is_staff is None else is_staff,
        is_superuser=role == Role.ADMINISTRATOR,
    )
    StaffProfile.objects.create(
        user=user,
        role=role,
        centre=centre if role in CENTRE_ROLES else None,
        agency=agency if role in AGENCY_ROLES else None,
    )
    TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)
    return user


def sign_in(client: Client, user: Any) -> Client:
    """Sign ``client`` in as ``user`` with the second factor verified."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


def staff_of(user: Any) -> Staff:
    return Staff.of(get_user_model().objects.select_related("staff_profile").get(pk=user.pk))
