"""The door to every back-office page: signed in, second factor verified, a staff role,
and the capability the page needs. Scope is then enforced by selectors and services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from tms.accounts.roles import Capability
from tms.accounts.scope import Staff

View = Callable[..., HttpResponse]


def redirect_on(name: str, next_url: str) -> HttpResponseRedirect:
    """To the sign-in step ``name``, which then goes on to ``next_url``."""
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def acting(request: HttpRequest) -> Staff:
    """The staff member ``staff_required`` let in."""
    staff: Staff = request.staff  # type: ignore[attr-defined]
    return staff


def staff_required(capability: Capability | None) -> Callable[[View], View]:
    """Let a verified staff member with ``capability`` in (None: any staff role);
    ``request.staff`` is then the acting Staff. Others are sent to sign in or refused."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_on("staff-login", request.get_full_path())
            if not user.is_verified():  # type: ignore[attr-defined]
                return redirect_on("staff-verify", request.get_full_path())
            staff = Staff.of(user)
            if capability is not None:
                staff.require(capability)
            request.staff = staff  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.staff_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorate
