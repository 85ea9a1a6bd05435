"""Staff accounts and their second factor (TOTP with one-use recovery codes)."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts.models import StaffProfile
from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Capability, Role
from tms.accounts.scope import NotAllowed, Staff
from tms.accounts.signals import staff_account_changed
from tms.directory.models import Agency, Centre

RECOVERY_CODES = 10
# Without look-alikes (0/O, 1/l/I) so that a code read off paper is typed right.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def has_second_factor(user: Any) -> bool:
    return any(devices_for_user(user, confirmed=True))


@transaction.atomic
def totp_enrolment_start(user: Any) -> TOTPDevice:
    """A fresh, unconfirmed authenticator for ``user`` (replacing an unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("authenticator app"), confirmed=False)


@transaction.atomic
def totp_enrolment_confirm(user: Any, device: TOTPDevice, token: str) -> list[str]:
    """Confirm ``device`` with a code from the app; returns new recovery codes (shown once)."""
    if device.user_id != user.pk or device.confirmed:
        raise ValidationError(_("This enrolment is no longer valid; start again."))
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationError(
            _("That code is not right. Check the time on your phone and try again.")
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    return recovery_codes_issue(user)


@transaction.atomic
def recovery_codes_issue(user: Any) -> list[str]:
    """Replace the user's recovery codes with new ones; each works once."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="recovery codes", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)
    ]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def second_factor_verify(user: Any, token: str) -> Device | None:
    """The device that accepts ``token`` (an app code or an unused recovery code), or None.
    Six digits go to the authenticator app, anything else to the recovery codes, so that
    a recovery code never counts as a wrong app code (which would make the app wait).
    Recovery codes are used up; TOTP devices throttle repeated failures themselves."""
    cleaned = token.strip().replace(" ", "").replace("-", "").lower()
    if not cleaned:
        return None
    kind = TOTPDevice if cleaned.isdigit() and len(cleaned) == 6 else StaticDevice
    for device in kind.objects.filter(user=user, confirmed=True):
        if device.verify_token(cleaned):
            return device
    return None


def second_factor_throttled(user: Any) -> bool:
    """True while wrong codes have the user's authenticator waiting (it doubles the wait
    after each failure, so guessing six digits is hopeless)."""
    return any(not device.verify_is_allowed()[0] for device in TOTPDevice.objects.filter(user=user))


def _check_manages(acting: Staff, role: Role, centre: Centre | None) -> None:
    acting.require(Capability.STAFF)
    if acting.role == Role.ADMINISTRATOR:
        return
    # A centre manager manages the counter officers of their own centre only.
    if role != Role.COUNTER_OFFICER or centre is None or centre.pk != acting.centre_id:
        raise NotAllowed(_("You can manage counter officers of your own centre only."))


@transaction.atomic
def staff_create(
    *,
    acting: Staff,
    username: str,
    password: str,
    role: Role,
    full_name: str = "",
    email: str = "",
    centre: Centre | None = None,
    agency: Agency | None = None,
) -> Any:
    """A new staff account; it enrols its authenticator at first sign-in."""
    _check_manages(acting, role, centre)
    errors: dict[str, list[str]] = {}
    user_model = get_user_model()
    username = username.strip()
    if not username:
        errors["username"] = [_("Enter a username.")]
    elif user_model.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This username is taken.")]
    if role in CENTRE_ROLES and centre is None:
        errors["centre"] = [_("This role works at a centre: choose one.")]
    if role in AGENCY_ROLES and agency is None:
        errors["agency"] = [_("This role works for an agency: choose one.")]
    candidate = user_model(username=username, email=email.strip())
    first, _sep, last = " ".join(full_name.split()).partition(" ")
    candidate.first_name, candidate.last_name = first, last
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    candidate.set_password(password)
    candidate.save()
    StaffProfile.objects.create(
        user=candidate,
        role=role,
        centre=centre if role in CENTRE_ROLES else None,
        agency=agency if role in AGENCY_ROLES else None,
    )
    staff_account_changed.send(sender=Staff, acting=acting, detail=f"created {username} as {role}")
    return candidate


def managed_profile(acting: Staff, user: Any) -> StaffProfile:
    """``user``'s staff profile, if ``acting`` may manage them; else NotAllowed."""
    profile = StaffProfile.objects.filter(user=user).select_related("centre").first()
    if profile is None:
        raise NotAllowed(_("This account has no staff role."))
    _check_manages(acting, Role(profile.role), profile.centre)
    return profile


@transaction.atomic
def staff_deactivate(*, acting: Staff, user: Any) -> None:
    managed_profile(acting, user)
    if user.pk == acting.pk:
        raise ValidationError(_("You cannot deactivate your own account."))
    user.is_active = False
    user.save(update_fields=["is_active"])
    staff_account_changed.send(
        sender=Staff, acting=acting, detail=f"deactivated {user.get_username()}"
    )


@transaction.atomic
def second_factor_reset(*, acting: Staff, user: Any) -> None:
    """Remove a lost authenticator: the user enrols a new one at next sign-in."""
    managed_profile(acting, user)
    for device in devices_for_user(user, confirmed=None):
        device.delete()
    staff_account_changed.send(
        sender=Staff, acting=acting, detail=f"reset second factor of {user.get_username()}"
    )
