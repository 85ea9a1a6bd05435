"""The admin site behind the same door as the back-office: password, then a second factor."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class StaffAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active and user.is_staff and getattr(user, "is_verified", lambda: False)()
        )

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        target = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('staff-login')}?{urlencode({'next': target})}")


class StaffAdminConfig(AdminConfig):
    """The Django admin, signed into through the staff login (password + TOTP)."""

    default = False
    default_site = "tms.accounts.admin_site.StaffAdminSite"
