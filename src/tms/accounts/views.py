"""Signing in (password, then a second factor; enrolment at first sign-in), signing out,
the staff home page and the centre manager's staff list."""

from __future__ import annotations

import base64
from io import BytesIO
from typing import cast

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts import services
from tms.accounts.access import acting, redirect_on, staff_required
from tms.accounts.forms import CodeForm, SignInForm, StaffCreateForm
from tms.accounts.models import StaffProfile
from tms.accounts.roles import Capability, Role
from tms.directory.models import Centre

ENROLMENT_KEY = "tms_enrolment_device"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("staff-home")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and request.user.is_authenticated:
        # Password given already: on to the second factor (or straight on, if done).
        if request.user.is_verified():  # type: ignore[attr-defined]
            return HttpResponseRedirect(_next(request))
        return redirect_on("staff-verify", _next(request))
    form = SignInForm(request.POST or None)
    locked = False
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        locked = bool(getattr(request, "axes_locked_out", False))
        if user is not None:
            login(request, user)
            if services.has_second_factor(user):
                return redirect_on("staff-verify", _next(request))
            return redirect_on("staff-enrol", _next(request))
        if not locked:
            form.add_error(None, _("Wrong username or password."))
    status = 403 if locked else 200
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "locked": locked,
            "next": _next(request),
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_on("staff-login", _next(request))
    if not services.has_second_factor(user):
        return redirect_on("staff-enrol", _next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.second_factor_throttled(user):
            form.add_error("code", _("Too many wrong codes. Wait a minute, then try again."))
        else:
            device = services.second_factor_verify(user, form.cleaned_data["code"])
            if device is not None:
                otp_login(request, device)
                return HttpResponseRedirect(_next(request))
            form.add_error("code", _("That code is not right, or it was used already."))
    return render(request, "accounts/verify.html", {"form": form, "next": _next(request)})


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in (or after a reset): add an authenticator app, then get recovery codes."""
    user = request.user
    if not user.is_authenticated:
        return redirect_on("staff-login", _next(request))
    if services.has_second_factor(user):
        return redirect_on("staff-verify", _next(request))
    device = TOTPDevice.objects.filter(
        pk=request.session.get(ENROLMENT_KEY), user=user, confirmed=False
    ).first()
    if device is None:
        device = services.totp_enrolment_start(user)
        request.session[ENROLMENT_KEY] = device.pk
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_enrolment_confirm(user, device, form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc.messages[0])
        else:
            request.session.pop(ENROLMENT_KEY, None)
            otp_login(request, device)
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": _next(request)},
            )
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "qr": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 (our own SVG)
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "next": _next(request),
        },
    )


@require_POST
@staff_required(None)
def recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = services.recovery_codes_issue(request.user)
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "next": reverse("staff-home")}
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are signed out."))
    return HttpResponseRedirect(reverse("staff-login"))


@never_cache
@staff_required(None)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html", {})


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(Capability.STAFF)
def people(request: HttpRequest) -> HttpResponse:
    """A centre manager's counter officers (administrators see everyone)."""
    staff = acting(request)
    form = StaffCreateForm(request.POST or None)
    if staff.role != Role.ADMINISTRATOR:
        role_field = cast(forms.ChoiceField, form.fields["role"])
        role_field.choices = [(Role.COUNTER_OFFICER.value, Role.COUNTER_OFFICER.label)]
        centre_field = cast(forms.ModelChoiceField, form.fields["centre"])
        centre_field.queryset = Centre.objects.filter(pk=staff.centre_pk)
        form.fields["centre"].initial = staff.centre_id
        del form.fields["agency"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.staff_create(
                acting=staff,
                username=data["username"],
                password=data["password"],
                role=Role(data["role"]),
                full_name=data["full_name"],
                email=data["email"],
                centre=data["centre"],
                agency=data.get("agency"),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request, _("Account created. It enrols its authenticator at first sign-in.")
            )
            return HttpResponseRedirect(reverse("staff-people"))
    profiles = StaffProfile.objects.select_related("user", "centre", "agency").order_by(
        "user__username"
    )
    if staff.role != Role.ADMINISTRATOR:
        profiles = profiles.filter(centre_id=staff.centre_pk)
    return render(request, "accounts/people.html", {"form": form, "profiles": profiles})


@require_POST
@staff_required(Capability.STAFF)
def person_action(request: HttpRequest, user_id: int) -> HttpResponse:
    staff = acting(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    services.managed_profile(staff, user)  # scope first, whatever the action
    action = request.POST.get("action")
    try:
        if action == "deactivate":
            services.staff_deactivate(acting=staff, user=user)
            messages.success(request, _("Account deactivated."))
        elif action == "reset_second_factor":
            services.second_factor_reset(acting=staff, user=user)
            messages.success(
                request, _("Second factor removed; the user enrols again at next sign-in.")
            )
        else:
            messages.error(request, _("Unknown action."))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return HttpResponseRedirect(reverse("staff-people"))


def locked_out(
    request: HttpRequest, credentials: dict | None = None, *args: object, **kwargs: object
) -> HttpResponse:
    """django-axes' answer to a sign-in on a locked account: the sign-in page, saying so."""
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": SignInForm(),
            "locked": True,
            "next": _next(request),
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=403,
    )
